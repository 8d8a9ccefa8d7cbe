"""Alerts -> incidents: one case for on-call per burst of an agency's (or one operator's) alerts.

An alert belongs to a *family* (``incidents.families`` in rules.yaml): the family says whether its
alerts group by agency (ORI) or by agency and operator, and the *gap*: alerts of one group belong to
one incident while each comes within ``gap_seconds`` (event time, by the alert's window end) of the
one before it. The incident's id is derived from the family, the group key and the id of its first
alert in event-time order, so it is the same in replay and live, after a restart, and under any
arrival order within the allowed lateness.

How that holds although alerts arrive in arrival order: an alert that joins an open incident
(its time lies between the incident's first alert and its last alert + gap) is settled at once —
whatever else may still arrive, its predecessor in event time belongs to that incident. An alert that
would *start* an incident is held until the watermark has passed its window end (then every alert
with an earlier time has been seen) and the held alerts are settled in event-time order. So the first
alert of an incident goes out one window plus the allowed lateness later than it would alone; every
later alert of it goes out at once. An incident closes when the watermark passes its last alert + gap.

Pure: no clock, no I/O. The state is bounded by the open incidents and serialisable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import msgspec

from processors.versioned import decode_versioned
from processors.windows import US_PER_S, rfc3339
from schemas import Alert, Incident

SEVERITY_RANK: Final[dict[str, int]] = {"critical": 0, "high": 1, "warning": 2, "info": 3}
OPERATOR_RULES_DEFAULT: Final = ("cardinality", "after_hours_burst", "repeat_subject")
STATE_FORMAT: Final = 1
PACIFIC: Final = ZoneInfo("America/Los_Angeles")
RULE_WORDS: Final[dict[str, tuple[str, str]]] = {
    "prohibited_query": ("prohibited query", "prohibited queries"),
    "immigration_share": ("immigration-share alert", "immigration-share alerts"),
    "dmv_by_dhs_surge": ("DMV surge", "DMV surges"),
    "flatline": ("silence", "silences"),
    "new_term": ("new message key/source", "new message keys/sources"),
    "cardinality": ("many-subjects alert", "many-subjects alerts"),
    "missing_justification": ("missing-justification alert", "missing-justification alerts"),
    "after_hours_burst": ("after-hours burst", "after-hours bursts"),
    "repeat_subject": ("repeated look-up of one person", "repeated look-ups of one person"),
    "query_while_suspended": ("query while suspended", "queries while suspended"),
}

Scope = Literal["agency", "operator"]


class IncidentConfigError(ValueError):
    """The ``incidents`` section of the rules file is wrong; the message names the key."""


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    scope: Scope
    gap_seconds: int
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IncidentPolicy:
    families: tuple[Family, ...] = (
        Family("agency", "agency", 7200, ()),
        Family("operator", "operator", 14 * 86400, OPERATOR_RULES_DEFAULT),
    )
    default_family: str = "agency"  # the family of a rule no family names
    peak_seconds: int = 600
    top_evidence: int = 10

    def family_of(self, rule: str) -> Family:
        default: Family | None = None
        for family in self.families:
            if rule in family.rules:
                return family
            if family.name == self.default_family:
                default = family
        if default is None:  # validated in from_mapping; kept for a hand-built policy
            raise IncidentConfigError(f"incidents: default_family {self.default_family!r} is not a family")
        return default

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> IncidentPolicy:
        if not data:
            return cls()
        unknown = sorted(set(data) - {"families", "default_family", "peak_seconds", "top_evidence"})
        if unknown:
            raise IncidentConfigError(f"incidents: unknown key(s) {unknown}")
        base = cls()
        families: list[Family] = []
        raw = data.get("families")
        if raw is None:
            families = list(base.families)
        elif not isinstance(raw, Mapping) or not raw:
            raise IncidentConfigError(
                "incidents.families must be a non-empty mapping of family name -> settings"
            )
        else:
            seen: dict[str, str] = {}
            for name, entry in raw.items():
                if not isinstance(entry, Mapping):
                    raise IncidentConfigError(f"incidents.families.{name} must be a mapping")
                bad = sorted(set(entry) - {"scope", "gap_seconds", "rules"})
                if bad:
                    raise IncidentConfigError(f"incidents.families.{name}: unknown key(s) {bad}")
                scope = entry.get("scope", "agency")
                if scope not in ("agency", "operator"):
                    raise IncidentConfigError(
                        f"incidents.families.{name}.scope must be 'agency' or 'operator', got {scope!r}"
                    )
                gap = entry.get("gap_seconds")
                if not isinstance(gap, int) or isinstance(gap, bool) or gap <= 0:
                    raise IncidentConfigError(
                        f"incidents.families.{name}.gap_seconds must be a positive integer, got {gap!r}"
                    )
                rules = entry.get("rules") or []
                if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
                    raise IncidentConfigError(f"incidents.families.{name}.rules must be a list of rule ids")
                for rule in rules:
                    if rule in seen:
                        raise IncidentConfigError(
                            f"incidents: rule {rule} is in two families ({seen[rule]} and {name})"
                        )
                    seen[rule] = str(name)
                families.append(Family(str(name), scope, gap, tuple(rules)))
        default_family = data.get("default_family", base.default_family)
        if default_family not in {f.name for f in families}:
            raise IncidentConfigError(
                f"incidents.default_family {default_family!r} is not one of {[f.name for f in families]}"
            )
        values: dict[str, int] = {}
        for name in ("peak_seconds", "top_evidence"):
            value = data.get(name, getattr(base, name))
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise IncidentConfigError(f"incidents.{name} must be a positive integer, got {value!r}")
            values[name] = value
        return cls(families=tuple(families), default_family=str(default_family), **values)


def incident_id(family: str, key: str, first_alert_id: str) -> str:
    """Deterministic incident id: sha256 of ``incident:family:key:first alert id``, 32 hex characters."""
    return hashlib.sha256(f"incident:{family}:{key}:{first_alert_id}".encode()).hexdigest()[:32]


def _us(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp()) * US_PER_S


class _Open(msgspec.Struct, kw_only=True):
    """The running state of one open incident."""

    incident_id: str
    family: str
    key: str
    ori: str
    operator: str | None
    first_alert_id: str
    first_us: int  # window end of the first alert (the group's ordering time)
    last_us: int  # latest window end of its alerts
    first_window_start: str
    last_window_end: str
    severity: str
    alerts: int = 0
    fired: int = 0
    counts_by_rule: dict[str, int] = {}
    fired_by_rule: dict[str, int] = {}
    events: int = 0
    prohibited_by_end: dict[int, int] = {}  # window end (s) -> prohibited queries, recent ones (for the peak)
    peak_count: int = 0
    peak_start: int | None = None  # epoch seconds
    top: list[tuple[int, int, str, list[str], list[str]]] = []  # (rank, end_us, alert id, event ids, offsets)
    seen: set[str] = set()  # alert ids counted (an alert emitted twice is counted once)


class _State(msgspec.Struct, kw_only=True):
    format: int
    open: list[_Open]
    held: list[Alert]


def _group(alert: Alert, family: Family) -> tuple[str, str | None]:
    """(group key, operator pseudonym) of an alert in its family."""
    if family.scope == "operator":
        parts = alert.key.split(":")
        if len(parts) >= 2:
            return f"{parts[0]}:{parts[1]}", parts[1]
    return alert.ori, None


@dataclass(frozen=True, slots=True)
class AgencyInfo:
    name: str | None
    component: str | None


class IncidentTracker:
    """Assigns every alert an ``incident_id`` and keeps the open incidents.

    ``add(alert)`` returns the alerts settled now (with their incident id), ``advance(closed_until_s)``
    the held alerts the watermark settles and closes incidents past their gap; both also queue the
    changed incidents, taken with ``take_changed()``.
    """

    def __init__(
        self,
        policy: IncidentPolicy | None = None,
        *,
        agency: Callable[[str], AgencyInfo] | None = None,
        access: Callable[[str], tuple[str, str]] | None = None,
        max_seen_per_incident: int = 50_000,
    ) -> None:
        self.policy = policy or IncidentPolicy()
        self._agency = agency or (lambda ori: AgencyInfo(None, None))
        self._access = access or (lambda ori: ("normal", "normal access"))
        self._open: dict[tuple[str, str], list[_Open]] = {}  # (family, key) -> open incidents, oldest first
        self._held: list[Alert] = []
        self._changed: dict[str, tuple[_Open, Literal["open", "closed"]]] = {}  # records built on take
        self._closed_until: int | None = None
        self._max_seen = max_seen_per_incident

    # ------------------------------------------------------------------ API

    def _order(self, alert: Alert) -> tuple[int, int, str, str]:
        """Event-time order of settling: window end, agency alerts before operator alerts, then ids."""
        rank = 1 if self.policy.family_of(alert.rule).scope == "operator" else 0
        return (_us(alert.window_end), rank, alert.window_start, alert.alert_id)

    def add(self, alert: Alert) -> list[Alert]:
        family = self.policy.family_of(alert.rule)
        key, _op = _group(alert, family)
        t = _us(alert.window_end)
        # An operator's alert joins its agency's open incident when one covers it, so it is settled
        # only once every earlier alert of the agency is known (held, like a starting alert).
        inc = self._joinable(family, key, t) if family.scope == "agency" else None
        if inc is not None:
            return [self._assign(inc, alert)]
        if self._closed_until is not None and t <= self._closed_until * US_PER_S:
            # behind the watermark (late beyond the allowed lateness, or re-emitted): settle now
            return [self._settle(alert)]
        self._held.append(alert)
        return []

    def advance(self, closed_until_s: int | None) -> list[Alert]:
        """The pipeline's windows are closed up to ``closed_until_s``: settle what that makes certain."""
        if closed_until_s is None:
            return []
        self._closed_until = closed_until_s
        limit = closed_until_s * US_PER_S
        ready = sorted((a for a in self._held if _us(a.window_end) <= limit), key=self._order)
        out: list[Alert] = []
        if ready:
            ids = {id(a) for a in ready}
            self._held = [a for a in self._held if id(a) not in ids]
            out = [self._settle(a) for a in ready]
        self._close_expired(limit)
        return out

    def flush(self) -> list[Alert]:
        """End of a bounded input: every alert has been seen; settle the held ones (incidents stay open)."""
        ready = sorted(self._held, key=self._order)
        self._held = []
        return [self._settle(a) for a in ready]

    def refresh(self, ori: str) -> None:
        """The agency's access recommendation changed: re-emit its open incidents with it."""
        for incs in self._open.values():
            for inc in incs:
                if inc.ori == ori:
                    self._changed[inc.incident_id] = (inc, "open")

    def take_changed(self) -> list[Incident]:
        records = [self._record(inc, status) for inc, status in self._changed.values()]
        changed = sorted(records, key=lambda i: (i.first_window_start, i.incident_id))
        self._changed = {}
        return changed

    def open_incidents(self) -> list[Incident]:
        return sorted(
            (self._record(inc, "open") for incs in self._open.values() for inc in incs),
            key=lambda i: (i.first_window_start, i.incident_id),
        )

    @property
    def held(self) -> int:
        return len(self._held)

    # ------------------------------------------------------------------ state

    def state_bytes(self) -> bytes:
        state = _State(
            format=STATE_FORMAT,
            # alert ids sorted (a set's order varies between processes): the same state gives the same bytes
            open=[
                msgspec.structs.replace(inc, seen=sorted(inc.seen))  # a list on the wire, decoded as a set
                for _k, incs in sorted(self._open.items())
                for inc in incs
            ],
            held=sorted(self._held, key=self._order),
        )
        return msgspec.msgpack.encode(state)

    def load_state(self, data: bytes) -> None:
        self._open = {}
        self._held = []
        if not data:
            return
        state = decode_versioned(data, _State, STATE_FORMAT, "incident state", ValueError)
        for inc in state.open:
            self._open.setdefault((inc.family, inc.key), []).append(inc)
        self._held = list(state.held)

    # ------------------------------------------------------------------ internals

    def _joinable(self, family: Family, key: str, t: int) -> _Open | None:
        gap = family.gap_seconds * US_PER_S
        for inc in self._open.get((family.name, key), ()):
            if inc.first_us <= t <= inc.last_us + gap:
                return inc
        return None

    def _settle(self, alert: Alert) -> Alert:
        """Assign an alert whose predecessors (in event time) are all known."""
        family = self.policy.family_of(alert.rule)
        key, operator = _group(alert, family)
        t = _us(alert.window_end)
        if family.scope == "operator":
            for agency_family in self.policy.families:
                if agency_family.scope == "agency":
                    covering = self._joinable(agency_family, alert.ori, t)
                    if covering is not None:
                        return self._assign(covering, alert)
        gap = family.gap_seconds * US_PER_S
        incs = self._open.get((family.name, key), [])
        for inc in incs:
            if inc.first_us <= t <= inc.last_us + gap:
                return self._assign(inc, alert)
        for inc in incs:
            # only past the allowed lateness can an alert come before an open incident's first one
            if t < inc.first_us <= t + gap:
                return self._assign(inc, alert)
        inc = _Open(
            incident_id=incident_id(family.name, key, alert.alert_id),
            family=family.name,
            key=key,
            ori=alert.ori,
            operator=operator,
            first_alert_id=alert.alert_id,
            first_us=t,
            last_us=t,
            first_window_start=alert.window_start,
            last_window_end=alert.window_end,
            severity=alert.severity,
        )
        self._open.setdefault((family.name, key), []).append(inc)
        return self._assign(inc, alert)

    def _assign(self, inc: _Open, alert: Alert) -> Alert:
        if alert.alert_id not in inc.seen:
            if len(inc.seen) < self._max_seen:
                inc.seen.add(alert.alert_id)
            t = _us(alert.window_end)
            inc.last_us = max(inc.last_us, t)
            inc.first_window_start = min(inc.first_window_start, alert.window_start)
            inc.last_window_end = max(inc.last_window_end, alert.window_end)
            if SEVERITY_RANK[alert.severity] < SEVERITY_RANK[inc.severity]:
                inc.severity = alert.severity
            inc.alerts += 1
            inc.fired += alert.status == "fired"
            inc.counts_by_rule[alert.rule] = inc.counts_by_rule.get(alert.rule, 0) + 1
            if alert.status == "fired":
                inc.fired_by_rule[alert.rule] = inc.fired_by_rule.get(alert.rule, 0) + 1
            inc.events += alert.evidence.count if alert.status == "fired" else 0
            if alert.rule == "prohibited_query":
                end_s = t // US_PER_S
                inc.prohibited_by_end[end_s] = inc.prohibited_by_end.get(end_s, 0) + alert.evidence.count
                self._update_peak(inc, end_s)
            if alert.status == "fired":
                entry = (
                    SEVERITY_RANK[alert.severity],
                    t,
                    alert.alert_id,
                    list(alert.evidence.event_ids[:3]),
                    list(alert.evidence.offsets[:3]),
                )
                inc.top.append(entry)
                inc.top.sort()
                del inc.top[self.policy.top_evidence :]
            self._changed[inc.incident_id] = (inc, "open")
        return msgspec.structs.replace(alert, incident_id=inc.incident_id)

    def _close_expired(self, limit_us: int) -> None:
        for group, incs in list(self._open.items()):
            family = next(f for f in self.policy.families if f.name == group[0])
            gap = family.gap_seconds * US_PER_S
            keep = []
            for inc in incs:
                if inc.last_us + gap < limit_us:
                    self._changed[inc.incident_id] = (inc, "closed")
                else:
                    keep.append(inc)
            if keep:
                self._open[group] = keep
            else:
                del self._open[group]

    def _update_peak(self, inc: _Open, end_s: int) -> None:
        """Most prohibited queries in any peak period (by window end), kept incrementally: only the periods
        that contain ``end_s`` changed. Old buckets are dropped (an hour behind the latest and more)."""
        span = self.policy.peak_seconds
        buckets = inc.prohibited_by_end
        for x in sorted(k for k in buckets if end_s <= k < end_s + span):
            total = sum(v for k, v in buckets.items() if x - span < k <= x)
            start = min(k for k in buckets if x - span < k <= x)
            if total > inc.peak_count or (
                total == inc.peak_count and (inc.peak_start is None or start < inc.peak_start)
            ):
                inc.peak_count, inc.peak_start = total, start
        floor = inc.last_us // US_PER_S - span - 3600
        if len(buckets) > 4 * (span // 60 + 1) and min(buckets) < floor:
            for k in [k for k in buckets if k < floor]:
                del buckets[k]

    def _record(self, inc: _Open, status: Literal["open", "closed"]) -> Incident:
        info = self._agency(inc.ori)
        level, action = self._access(inc.ori)
        peak, peak_end = inc.peak_count, inc.peak_start
        evidence: list[str] = []
        offsets: list[str] = []
        for _rank, _t, _aid, ids, offs in inc.top:
            for event_id in ids:
                if event_id not in evidence and len(evidence) < self.policy.top_evidence:
                    evidence.append(event_id)
            for off in offs:
                if off not in offsets and len(offsets) < self.policy.top_evidence:
                    offsets.append(off)
        scope: Scope = "operator" if inc.operator is not None else "agency"
        record = Incident(
            incident_id=inc.incident_id,
            family=inc.family,
            scope=scope,
            key=inc.key,
            ori=inc.ori,
            operator=inc.operator,
            agency_name=info.name,
            component=info.component,
            severity=inc.severity,  # type: ignore[arg-type]  # a key of SEVERITY_RANK, set from alerts
            status=status,
            first_alert_id=inc.first_alert_id,
            first_window_start=inc.first_window_start,
            last_window_end=inc.last_window_end,
            alerts=inc.alerts,
            fired=inc.fired,
            counts_by_rule=dict(sorted(inc.counts_by_rule.items())),
            fired_by_rule=dict(sorted(inc.fired_by_rule.items())),
            events=inc.events,
            peak_count=peak,
            peak_start=rfc3339(peak_end - 60) if peak_end is not None else None,
            peak_seconds=self.policy.peak_seconds,
            evidence=tuple(evidence),
            offsets=tuple(offsets),
            recommendation=level,
            recommended_action=action,
        )
        return msgspec.structs.replace(record, story=story(record))


def _local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(PACIFIC)


def span_text(first: str, last: str) -> str:
    """An incident's span in California time: ``05:01–07:59 PDT 2019-06-12`` or across days."""
    a, b = _local(first), _local(last)
    if a.date() == b.date():
        return f"{a:%H:%M}–{b:%H:%M} {b:%Z} {a:%Y-%m-%d}"
    return f"{a:%Y-%m-%d %H:%M}–{b:%Y-%m-%d %H:%M} {b:%Z}"


def story(inc: Incident) -> str:
    """One line for on-call: who, what, when, and the peak."""
    who = " ".join(p for p in (inc.component, inc.agency_name or inc.ori) if p)
    if inc.component and inc.agency_name and inc.component.split("-")[0] in inc.agency_name:
        who = inc.agency_name
    if inc.operator:
        who += f", operator {inc.operator}"
    parts: list[str] = []
    order = sorted(inc.fired_by_rule.items(), key=lambda kv: (kv[0] != "prohibited_query", -kv[1], kv[0]))
    for rule, count in order:
        one, many = RULE_WORDS.get(rule, (f"{rule} alert", f"{rule} alerts"))
        parts.append(f"{count} {one if count == 1 else many}")
    if inc.alerts > inc.fired:
        parts.append(f"{inc.alerts - inc.fired} repeat(s) suppressed")
    line = f"{who}: {', '.join(parts)} {span_text(inc.first_window_start, inc.last_window_end)}"
    if inc.peak_count > 1:
        line += f", {inc.peak_count} in {inc.peak_seconds // 60} min at the peak"
    return line
