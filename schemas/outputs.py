"""What the pipeline emits: a verdict per event, window aggregates, alerts."""

from __future__ import annotations

import datetime as dt
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
    policy_digest: str = ""  # "sha256:<16 hex>" of the policy file and its statute table


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


class ProcessedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A query event after decode, classification and pseudonymization: what windows, rules and
    sinks see. Holds no PII in clear: ``operator`` and ``subject_key`` are pseudonyms, and the
    free-text reason and case number are reduced to flags."""

    event_id: str
    occurred_at: dt.datetime  # UTC
    ori: str
    component: str | None
    department: str | None
    operator: str
    terminal_id: str
    message_type: str
    data_source: str
    purpose_code: str | None
    has_reason: bool
    has_case_number: bool
    subject_key: str | None
    verdict: VerdictName
    purpose: PurposeName
    rules: tuple[str, ...]
    policy_version: str
    source: str | None = None  # "topic/partition/offset", or "file:line" for archives


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A message the pipeline could not process, with the reason (one of DEAD_LETTER_REASONS).

    ``payload`` is the raw message as received (the dead-letter topic keeps it for re-drive);
    the database keeps only its digest and size, never the payload."""

    reason: str
    detail: str
    payload: bytes
    source: str | None = None
    event_id: str | None = None
