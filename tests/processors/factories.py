"""Builders shared by the pure-core tests: processed events, window views, rule settings, raw events,
and a small deterministic classify function (a test double of our own pure classifier)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Literal

import msgspec

from processors.rules.base import AgencyWindow, RuleSettings, WindowView
from processors.rules.config import load_rules_config
from schemas import Alert, Evidence, Incident, ProcessedEvent, QueryEvent, Verdict
from schemas.outputs import Severity

T0 = dt.datetime(2024, 5, 1, 19, 0, tzinfo=dt.UTC)  # 12:00 in Los Angeles (PDT)
T0_S = int(T0.timestamp())
DHS_ORI = "CAICE0100"
LASD = "CA0190000"


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def pe(
    event_id: str,
    seconds: float = 0,
    *,
    ori: str = LASD,
    operator: str = "op-1",
    terminal_id: str = "T1",
    subject_key: str | None = "s-1",
    data_source: str = "criminal_history",
    message_type: str = "QH",
    purpose: str = "criminal_justice",
    verdict: str = "allowed",
    has_reason: bool = True,
    has_case_number: bool = False,
    rules: tuple[str, ...] = (),
    department: str | None = None,
    component: str | None = None,
    source: str | None = None,
    when: dt.datetime | None = None,
) -> ProcessedEvent:
    if ori == DHS_ORI and department is None:
        department, component = "DHS", "ICE-ERO"
    return ProcessedEvent(
        event_id=event_id,
        occurred_at=when or at(seconds),
        ori=ori,
        component=component,
        department=department,
        operator=operator,
        terminal_id=terminal_id,
        message_type=message_type,
        data_source=data_source,
        purpose_code=None,
        has_reason=has_reason,
        has_case_number=has_case_number,
        subject_key=subject_key,
        verdict=verdict,  # type: ignore[arg-type]
        purpose=purpose,  # type: ignore[arg-type]
        rules=rules,
        policy_version="1",
        source=source,
    )


def make_alert(
    alert_id: str = "al-1",
    *,
    rule: str = "prohibited_query",
    rule_version: int = 1,
    severity: Severity = "critical",
    ori: str = LASD,
    key: str | None = None,
    window_start: str = "2024-05-01T19:00:00Z",
    window_end: str = "2024-05-01T19:01:00Z",
    summary: str = "s",
    evidence: Evidence | None = None,
    **fields: Any,
) -> Alert:
    """An alert of ``rule`` at ``ori`` (keyed by the ORI unless ``key``) over one minute from T0, with one
    event as evidence unless ``evidence``; ``fields`` sets the others (component, status, incident_id)."""
    return Alert(
        alert_id=alert_id,
        rule=rule,
        rule_version=rule_version,
        severity=severity,
        ori=ori,
        key=key if key is not None else ori,
        window_start=window_start,
        window_end=window_end,
        summary=summary,
        evidence=evidence if evidence is not None else Evidence(count=1, event_ids=("e1",)),
        **fields,
    )


def dmv_alert(alert_id: str, **fields: Any) -> Alert:
    """A high ``dmv_burst`` alert keyed by CA0190000 (whatever its ``ori``) from 12:00 to 13:00 UTC on
    2019-03-01, the hour the sink and command tests write; ``fields`` sets the others."""
    return make_alert(
        alert_id,
        **{
            "rule": "dmv_burst",
            "severity": "high",
            "key": LASD,
            "window_start": "2019-03-01T12:00:00Z",
            "window_end": "2019-03-01T13:00:00Z",
            **fields,
        },
    )


def make_incident(
    incident_id: str = "inc-1",
    *,
    ori: str = DHS_ORI,
    key: str | None = None,
    severity: Severity = "critical",
    first_alert_id: str = "a1",
    first_window_start: str = "2019-06-12T12:30:00Z",
    last_window_end: str = "2019-06-12T13:00:00Z",
    counts_by_rule: dict[str, int] | None = None,
    events: int | None = None,
    **fields: Any,
) -> Incident:
    """An agency incident at ``ori`` (keyed by the ORI unless ``key``) whose alerts, all fired, are
    ``counts_by_rule`` (one prohibited query unless given), with one event per alert unless ``events``;
    ``fields`` sets the others (status, agency_name, component, story, ...)."""
    counts = counts_by_rule if counts_by_rule is not None else {"prohibited_query": 1}
    alerts = sum(counts.values())
    return Incident(
        incident_id=incident_id,
        family="agency",
        scope="agency",
        key=key if key is not None else ori,
        ori=ori,
        severity=severity,
        first_alert_id=first_alert_id,
        first_window_start=first_window_start,
        last_window_end=last_window_end,
        alerts=alerts,
        fired=alerts,
        counts_by_rule=counts,
        events=events if events is not None else alerts,
        **fields,
    )


def view(start: int, events: Iterable[ProcessedEvent], size: int = 60) -> WindowView:
    by_ori: dict[str, list[ProcessedEvent]] = defaultdict(list)
    for e in events:
        by_ori[e.ori].append(e)
    agencies = {
        ori: AgencyWindow(
            ori,
            evs[0].component,
            evs[0].department,
            tuple(sorted(evs, key=lambda e: (e.occurred_at, e.event_id))),
        )
        for ori, evs in sorted(by_ori.items())
    }
    return WindowView(start, start + size, agencies)


def settings(rule_id: str, **params: Any) -> RuleSettings:
    base = load_rules_config().rules[rule_id]
    return dataclasses.replace(base, params={**base.params, **params})


# ---------------------------------------------------------------- raw events for the pipeline


def raw(
    event_id: str,
    seconds: float = 0,
    *,
    ori: str = LASD,
    operator_id: str = "deputy-1",
    message_type: str = "QH",
    reason: str = "burglary 459 PC",
    case_number: str | None = None,
    subject: dict[str, Any] | None = None,
    when: dt.datetime | None = None,
) -> bytes:
    return msgspec.json.encode(
        {
            "schema_version": 1,
            "event_id": event_id,
            "occurred_at": (when or at(seconds)).isoformat(),
            "ori": ori,
            "operator_id": operator_id,
            "terminal_id": "T1",
            "message_type": message_type,
            "purpose_code": None,
            "reason": reason,
            "case_number": case_number,
            "subject": subject if subject is not None else {"name": f"person {event_id}"},
        }
    )


SOURCES = {"QH": "criminal_history", "DQ": "dmv_license", "RQ": "dmv_registration", "QW": "wanted_person"}


def fake_classify(event: QueryEvent) -> Verdict:
    """Deterministic stand-in for the policy classifier: 'deport' in the reason is immigration
    enforcement (prohibited off criminal history), an empty reason without case number is review."""
    source = SOURCES.get(event.message_type, "unknown")
    if "deport" in event.reason.lower():
        verdict: Literal["allowed", "prohibited"] = (
            "allowed" if source == "criminal_history" else "prohibited"
        )
        return Verdict(
            event_id=event.event_id,
            verdict=verdict,
            purpose="immigration_enforcement",
            rules=("POL-2", "POL-2a" if verdict == "allowed" else "POL-2b"),
            policy_version="1",
            data_source=source,
        )
    if not event.reason.strip() and not event.case_number:
        return Verdict(
            event_id=event.event_id,
            verdict="review",
            purpose="unknown",
            rules=("POL-1",),
            policy_version="1",
            data_source=source,
        )
    return Verdict(
        event_id=event.event_id,
        verdict="allowed",
        purpose="criminal_justice",
        rules=(),
        policy_version="1",
        data_source=source,
    )
