"""What the pipeline emits: a verdict per event, window aggregates, alerts."""

from __future__ import annotations

from typing import Literal

import msgspec

VerdictName = Literal["prohibited", "review", "allowed"]
PurposeName = Literal["immigration_enforcement", "criminal_justice", "non_criminal_justice", "unknown"]
Severity = Literal["critical", "high", "warning", "info"]


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """The classifier's decision for one query event (the ``classify`` output line)."""

    event_id: str
    verdict: VerdictName
    purpose: PurposeName
    rules: tuple[str, ...]
    policy_version: str
    data_source: str = "unknown"


class Aggregate(msgspec.Struct, frozen=True, kw_only=True):
    """Counts for one agency over one closed event-time window.

    ``revision`` is 0 for the result emitted when the watermark closed the window and
    grows by one with each amendment caused by late events.
    """

    ori: str
    window_kind: str  # e.g. "tumbling-60s" or "hopping-3600s-300s"
    window_start: str  # RFC 3339, UTC
    window_end: str
    total: int
    by_verdict: dict[str, int]
    by_purpose: dict[str, int]
    by_data_source: dict[str, int]
    revision: int = 0
    late: int = 0


class Evidence(msgspec.Struct, frozen=True, kw_only=True):
    """Why an alert fired: counts, a bounded sample of event ids, source offsets."""

    count: int
    event_ids: tuple[str, ...]
    counts: dict[str, float] = {}
    offsets: tuple[str, ...] = ()  # "topic/partition/offset" of the sampled events
    policy_rules: tuple[str, ...] = ()


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """An alert raised by a rule. ``alert_id`` is derived from (rule, rule_version, key, window_start)."""

    alert_id: str
    rule: str
    rule_version: int
    severity: Severity
    ori: str
    key: str
    window_start: str
    window_end: str
    summary: str
    evidence: Evidence
    component: str | None = None
    status: Literal["fired", "suppressed"] = "fired"
    suppressed_reason: str | None = None
