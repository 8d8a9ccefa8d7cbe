"""What the pipeline emits: a verdict per event, window aggregates, alerts."""

from __future__ import annotations

import base64
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
    incident_id: str | None = (
        None  # the incident it belongs to (processors/incidents.py); set on every emitted alert
    )


class Incident(msgspec.Struct, frozen=True, kw_only=True):
    """One case for on-call: an agency's (or one operator's) alerts that kept coming within a gap.

    ``incident_id`` is derived from the incident's family, its key (ORI, or ORI:operator pseudonym) and
    the id of its first alert in event-time order, so replay and the live worker agree on it. The record
    is re-emitted whenever the incident grows or closes (``status``), the latest one wins.
    """

    incident_id: str
    family: str  # the rule family in rules.yaml (e.g. "agency", "operator")
    scope: Literal["agency", "operator"]
    key: str  # ORI, or "ORI:operator pseudonym"
    ori: str
    operator: str | None = None  # pseudonym, for operator-scope incidents
    agency_name: str | None = None
    component: str | None = None
    severity: Severity
    status: Literal["open", "closed"] = "open"
    first_alert_id: str
    first_window_start: str  # RFC 3339, UTC
    last_window_end: str
    alerts: int  # alerts in it (fired and suppressed)
    fired: int
    counts_by_rule: dict[str, int]  # alerts per rule
    fired_by_rule: dict[str, int] = {}  # fired (not suppressed) alerts per rule
    events: int  # sum of the alerts' evidence counts
    peak_count: int = 0  # most prohibited queries in one peak period (peak_seconds)
    peak_start: str | None = None
    peak_seconds: int = 600
    evidence: tuple[str, ...] = ()  # top event ids (highest severity first, then earliest)
    offsets: tuple[str, ...] = ()  # their source offsets
    # the agency's access level when this record was written (normal | watch | suspend): a live view,
    # not part of the determinism promise (it moves with every alert of the agency, in arrival order)
    recommendation: str = "normal"
    recommended_action: str = ""
    story: str = ""


class AccessDecision(msgspec.Struct, frozen=True, kw_only=True):
    """A supervisor's decision on an agency's direct CLETS access, in force from ``effective_at``
    (event time) until the agency's next decision. Published on the compacted topic
    ``clets.access-decisions`` (key = ORI) and kept in the database."""

    decision_id: str
    ori: str
    action: Literal["suspend", "restore"]
    effective_at: str  # RFC 3339, UTC
    by: str
    reason: str


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


_encode = msgspec.json.Encoder().encode


def dead_letter_message(dl: DeadLetter) -> bytes:
    """A dead letter as the dead-letter topic carries it (and ``replay --dead-letters`` writes it, one per
    line): reason, detail, source, event id and the raw payload for re-drive — as text when it is UTF-8,
    else base64 in ``payload_base64``."""
    try:
        text: str | None = dl.payload.decode("utf-8")
        raw_b64 = None
    except UnicodeDecodeError:
        text, raw_b64 = None, base64.b64encode(dl.payload).decode()
    return _encode(
        {
            "reason": dl.reason,
            "detail": dl.detail,
            "source": dl.source,
            "event_id": dl.event_id,
            "payload": text,
            "payload_base64": raw_b64,
        }
    )
