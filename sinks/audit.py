"""Audit runs: what a ``clets-watch replay --record`` produced, kept apart from the live tables.

A replay never writes ``alerts``, ``query_verdicts`` or ``window_aggregates``. It writes one
``audit_runs`` row (run id, policy and rules version, what was replayed, event-time range, counts)
and run-scoped results: ``audit_alerts`` (run id, alert id, the alert as sorted JSON),
``audit_verdict_counts`` (per Pacific month, agency, data source, purpose and verdict — not per
event) and ``audit_operator_flags`` (per agency and operator pseudonym). Re-classifying history
under a new policy version is a new run, never a migration.

``AuditStore`` writes a run in one transaction and answers the report, diff and disclosure queries.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
from sqlalchemy import func, select

from schemas.outputs import Alert
from sinks.alert_store import alert_rows, select_alerts
from sinks.db import EngineOwner, open_engine
from sinks.disclosures import DisclosureStore
from sinks.models import (
    UTC,
    AlertRecord,
    AuditAlert,
    AuditOperatorFlag,
    AuditRun,
    AuditVerdictCount,
    QueryVerdict,
)

LIVE: Final = "live"  # the name ``--diff`` uses for the live alerts table
_json = msgspec.json.Encoder(order="sorted")
_decode = msgspec.json.Decoder(dict[str, Any])
_CHUNK: Final = 2000


class AuditError(Exception):
    """An audit-run request that cannot be carried out (the message says why)."""


# ------------------------------------------------------------------------------------------ values


@dataclass(frozen=True)
class RunRow:
    run_id: str
    created_at: dt.datetime
    policy_version: str
    rules_version: str
    input_kind: str
    input_description: str
    range_since: dt.datetime | None
    range_until: dt.datetime | None
    first_event_at: dt.datetime | None
    last_event_at: dt.datetime | None
    key_fingerprint: str
    counts: dict[str, Any]
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        def iso(v: dt.datetime | None) -> str | None:
            return v.astimezone(UTC).isoformat().replace("+00:00", "Z") if v else None

        return {
            "run_id": self.run_id,
            "created_at": iso(self.created_at),
            "policy_version": self.policy_version,
            "rules_version": self.rules_version,
            "input_kind": self.input_kind,
            "input": self.input_description,
            "since": iso(self.range_since),
            "until": iso(self.range_until),
            "first_event_at": iso(self.first_event_at),
            "last_event_at": iso(self.last_event_at),
            "key_fingerprint": self.key_fingerprint,
            "counts": self.counts,
            "note": self.note,
        }


@dataclass(frozen=True)
class NewRun:
    """What a replay knows about its run before writing it."""

    run_id: str
    policy_version: str
    rules_version: str
    input_kind: str
    input_description: str
    key_fingerprint: str
    range_since: dt.datetime | None = None
    range_until: dt.datetime | None = None
    note: str | None = None


@dataclass(frozen=True)
class VerdictCountRow:
    month: str
    ori: str
    component: str | None
    department: str | None
    data_source: str
    purpose: str
    verdict: str
    queries: int


@dataclass(frozen=True)
class OperatorFlagRow:
    ori: str
    component: str | None
    operator: str
    queries: int
    prohibited: int
    review: int

    @property
    def flagged(self) -> int:
        return self.prohibited + self.review


@dataclass(frozen=True)
class Filters:
    """Report filters: a Pacific calendar year, a department, a component, an ORI (all optional)."""

    year: int | None = None
    department: str | None = None
    component: str | None = None
    ori: str | None = None

    def describe(self) -> str:
        parts = [
            f"{k} {v}"
            for k, v in (
                ("year", self.year),
                ("department", self.department),
                ("component", self.component),
                ("ORI", self.ori),
            )
            if v is not None
        ]
        return ", ".join(parts) or "no filter"


# fields compared by --diff: everything but where the sampled events sat in the input (offsets)
DIFF_FIELDS: Final = (
    "rule",
    "rule_version",
    "severity",
    "ori",
    "component",
    "key",
    "window_start",
    "window_end",
    "status",
    "summary",
    "evidence.count",
    "evidence.counts",
    "evidence.event_ids",
    "evidence.policy_rules",
)
# what ``live_alerts`` gives of each alert: its id, its evidence and the compared fields (``status``: the rule's)
_LIVE_FIELDS: Final = frozenset({"alert_id", "evidence"} | {f for f in DIFF_FIELDS if "." not in f})


@dataclass
class RunDiff:
    run_a: str
    run_b: str
    only_a: list[dict[str, Any]] = field(default_factory=list)
    only_b: list[dict[str, Any]] = field(default_factory=list)
    changed: list[tuple[dict[str, Any], dict[str, Any], list[str]]] = field(default_factory=list)
    same: int = 0

    @property
    def identical(self) -> bool:
        return not (self.only_a or self.only_b or self.changed)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "same": self.same,
            "only_a": [_brief(a) for a in self.only_a],
            "only_b": [_brief(b) for b in self.only_b],
            "changed": [
                {**_brief(a), "fields": f, "a": _pick(a, f), "b": _pick(b, f)} for a, b, f in self.changed
            ],
        }


def _get(alert: dict[str, Any], dotted: str) -> Any:
    value: Any = alert
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, list):
        return tuple(value)
    return value


def _pick(alert: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    return {f: _get(alert, f) for f in fields}


def _brief(alert: dict[str, Any]) -> dict[str, Any]:
    return {k: alert.get(k) for k in ("alert_id", "rule", "severity", "ori", "window_start", "status")}


def diff_alerts(run_a: str, a: Iterable[dict[str, Any]], run_b: str, b: Iterable[dict[str, Any]]) -> RunDiff:
    """Alerts only in A, only in B, and in both with different content (by alert id)."""
    by_a = {x["alert_id"]: x for x in a}
    by_b = {x["alert_id"]: x for x in b}
    result = RunDiff(run_a, run_b)

    def order(x: dict[str, Any]) -> tuple[str, str, str]:
        return (str(x.get("window_start")), str(x.get("rule")), str(x.get("alert_id")))

    result.only_a = sorted((by_a[k] for k in by_a.keys() - by_b.keys()), key=order)
    result.only_b = sorted((by_b[k] for k in by_b.keys() - by_a.keys()), key=order)
    for k in sorted(by_a.keys() & by_b.keys(), key=lambda k: order(by_a[k])):
        fields = [f for f in DIFF_FIELDS if _get(by_a[k], f) != _get(by_b[k], f)]
        if fields:
            result.changed.append((by_a[k], by_b[k], fields))
        else:
            result.same += 1
    return result


KEY_FINGERPRINT_LABEL: Final = b"clets-watch key fingerprint v2"


def key_fingerprint(key: bytes) -> str:
    """A short fingerprint of the pseudonym key, so runs with different keys are not compared.

    A keyed derivation (HMAC-SHA256 of a constant under the key), never a bare hash of the key, so it
    matches no precomputed table of hashes. Guessing a key from it is as hard as the key is random:
    production refuses keys under 32 bytes of entropy (``clets_watch.settings.check_key_strength``)."""
    return hmac.new(key, KEY_FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:16]


def _iso(value: dt.datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    return parsed.astimezone(UTC)


# ------------------------------------------------------------------------------------------ store


class AuditStore(EngineOwner):
    """Writes audit runs and reads them back (report, diff, disclosure check). Migrates on open."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.engine = open_engine(url, create=create)
        self.url = url
        self.disclosures = DisclosureStore(self.engine)  # the live side's filings, on the same database

    # -- writing ---------------------------------------------------------------------------------

    def write_run(self, run: NewRun, tally: Any, *, created_at: dt.datetime | None = None) -> RunRow:
        """Write a whole run (``tally``: a ``processors.replay.AuditTally``) in one transaction."""
        if self.get_run(run.run_id) is not None:
            raise AuditError(f"audit run {run.run_id!r} already exists; choose another --run-id")
        if run.run_id == LIVE:
            raise AuditError(f"{LIVE!r} names the live alerts; choose another --run-id")
        stats = tally.stats.as_dict()
        alerts: list[Alert] = tally.sorted_alerts()
        counts: dict[str, Any] = {
            "events": stats["events"],
            "duplicates": stats["duplicates"],
            "late": stats["late"],
            "dead_letters": stats["dead_letters"],
            "dead_letters_by_reason": dict(sorted(tally.dead_letters.items())),
            "alerts": len(alerts),
            "alerts_fired": sum(1 for a in alerts if a.status == "fired"),
            "alerts_by_rule": _count_by(a.rule for a in alerts if a.status == "fired"),
            "verdicts": _count_by_weighted((k[6], n) for k, n in tally.counts.items()),
            "agencies": len({k[1] for k in tally.counts}),
        }
        row = {
            "run_id": run.run_id,
            "created_at": created_at or dt.datetime.now(UTC),
            "policy_version": run.policy_version,
            "rules_version": run.rules_version,
            "input_kind": run.input_kind,
            "input_description": run.input_description,
            "range_since": run.range_since,
            "range_until": run.range_until,
            "first_event_at": tally.first_event_at,
            "last_event_at": tally.last_event_at,
            "key_fingerprint": run.key_fingerprint,
            "counts": counts,
            "note": run.note,
        }
        alert_rows = [
            {
                "run_id": run.run_id,
                "alert_id": a.alert_id,
                "rule": a.rule,
                "severity": a.severity,
                "ori": a.ori,
                "component": a.component,
                "month": tally.month_of(_parse_time(a.window_start)),
                "window_start": _parse_time(a.window_start),
                "status": a.status,
                "alert_json": _json.encode(a).decode(),
            }
            for a in alerts
        ]
        count_rows = [
            {
                "run_id": run.run_id,
                "month": month,
                "ori": ori,
                "component": component,
                "department": department,
                "data_source": source,
                "purpose": purpose,
                "verdict": verdict,
                "queries": n,
            }
            for (month, ori, component, department, source, purpose, verdict), n in sorted(
                tally.counts.items(), key=lambda kv: tuple(str(x) for x in kv[0])
            )
        ]
        operator_rows = [
            {
                "run_id": run.run_id,
                "ori": ori,
                "operator": op,
                "queries": t.queries,
                "prohibited": t.prohibited,
                "review": t.review,
            }
            for (ori, op), t in sorted(tally.operators.items())
        ]
        with self.engine.begin() as conn:
            conn.execute(AuditRun.__table__.insert(), row)  # type: ignore[attr-defined]
            for table, rows in (
                (AuditAlert.__table__, alert_rows),
                (AuditVerdictCount.__table__, count_rows),
                (AuditOperatorFlag.__table__, operator_rows),
            ):
                for i in range(0, len(rows), _CHUNK):
                    conn.execute(table.insert(), rows[i : i + _CHUNK])  # type: ignore[attr-defined]
        result = self.get_run(run.run_id)
        assert result is not None
        return result

    def delete_run(self, run_id: str) -> None:
        with self.engine.begin() as conn:
            for model in (AuditAlert, AuditVerdictCount, AuditOperatorFlag, AuditRun):
                conn.execute(model.__table__.delete().where(model.__table__.c.run_id == run_id))  # type: ignore[attr-defined]

    # -- reading ---------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunRow | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(AuditRun.__table__).where(AuditRun.__table__.c.run_id == run_id)).first()
        return _run_row(r._mapping) if r is not None else None

    def require_run(self, run_id: str) -> RunRow:
        run = self.get_run(run_id)
        if run is None:
            known = ", ".join(r.run_id for r in self.list_runs()[-5:]) or "none yet"
            raise AuditError(f"no audit run {run_id!r} in {self.url_for_humans()} (recent runs: {known})")
        return run

    def list_runs(self) -> list[RunRow]:
        table: Any = AuditRun.__table__
        with self.engine.connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.created_at, table.c.run_id)).all()
        return [_run_row(r._mapping) for r in rows]

    def url_for_humans(self) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    def alerts(self, run_id: str, filters: Filters | None = None) -> list[dict[str, Any]]:
        """A run's alerts as JSON objects, in window-start order."""
        if run_id == LIVE:
            return self.live_alerts(filters)
        t: Any = AuditAlert.__table__
        query = select(t.c.alert_json).where(t.c.run_id == run_id)
        query = _filter(query, t, filters).order_by(t.c.window_start, t.c.rule, t.c.alert_id)
        with self.engine.connect() as conn:
            return [_decode.decode(r[0]) for r in conn.execute(query).all()]

    def alert_lines(self, run_id: str) -> list[str]:
        """A run's alerts as the exact JSON lines ``replay --json`` printed."""
        t: Any = AuditAlert.__table__
        query = select(t.c.alert_json).where(t.c.run_id == run_id)
        with self.engine.connect() as conn:
            lines = [r[0] for r in conn.execute(query).all()]
        return sorted(lines, key=lambda s: _order_key(_decode.decode(s)))

    def live_alerts(self, filters: Filters | None = None) -> list[dict[str, Any]]:
        """The live ``alerts`` table (read only), shaped like a run's alerts for ``--diff``."""
        query = select_alerts().order_by(AlertRecord.window_start, AlertRecord.rule, AlertRecord.alert_id)
        if filters is not None and filters.ori:
            query = query.where(AlertRecord.ori == filters.ori)
        if filters is not None and filters.component:
            query = query.where(AlertRecord.component == filters.component)
        with self.engine.connect() as conn:
            rows = alert_rows(conn.execute(query))
        # shaped like a run's alert: its status is what the rule said, not the life-cycle state
        out = [
            {**{k: v for k, v in row.to_json().items() if k in _LIVE_FIELDS}, "status": row.raised_as}
            for row in rows
        ]
        if filters is not None and filters.year is not None:
            out = [a for a in out if _pacific_year(a["window_start"]) == filters.year]
        return out

    def verdict_counts(self, run_id: str, filters: Filters | None = None) -> list[VerdictCountRow]:
        t: Any = AuditVerdictCount.__table__
        query = _filter(select(t).where(t.c.run_id == run_id), t, filters)
        query = query.order_by(t.c.month, t.c.ori, t.c.data_source, t.c.purpose, t.c.verdict)
        with self.engine.connect() as conn:
            return [
                VerdictCountRow(
                    r.month,
                    r.ori,
                    r.component,
                    r.department,
                    r.data_source,
                    r.purpose,
                    r.verdict,
                    int(r.queries),
                )
                for r in conn.execute(query).all()
            ]

    def operator_flags(
        self, run_id: str, filters: Filters | None = None, *, limit: int = 20
    ) -> list[OperatorFlagRow]:
        """Operators (pseudonyms) with the most prohibited + review queries, busiest first."""
        ops: Any = AuditOperatorFlag.__table__
        agencies = (
            select(
                AuditVerdictCount.__table__.c.ori,
                func.max(AuditVerdictCount.__table__.c.component).label("component"),
                func.max(AuditVerdictCount.__table__.c.department).label("department"),
            )
            .where(AuditVerdictCount.__table__.c.run_id == run_id)
            .group_by(AuditVerdictCount.__table__.c.ori)
            .subquery()
        )
        flagged = (ops.c.prohibited + ops.c.review).label("flagged")
        query = (
            select(
                ops.c.ori,
                agencies.c.component,
                ops.c.operator,
                ops.c.queries,
                ops.c.prohibited,
                ops.c.review,
                flagged,
            )
            .join(agencies, agencies.c.ori == ops.c.ori, isouter=True)
            .where(ops.c.run_id == run_id, (ops.c.prohibited + ops.c.review) > 0)
        )
        if filters is not None:
            if filters.ori:
                query = query.where(ops.c.ori == filters.ori)
            if filters.component:
                query = query.where(agencies.c.component == filters.component)
            if filters.department:
                query = query.where(agencies.c.department == filters.department)
        query = query.order_by(flagged.desc(), ops.c.prohibited.desc(), ops.c.ori, ops.c.operator).limit(
            limit
        )
        with self.engine.connect() as conn:
            return [
                OperatorFlagRow(
                    r.ori, r.component, r.operator, int(r.queries), int(r.prohibited), int(r.review)
                )
                for r in conn.execute(query).all()
            ]

    def diff(self, run_a: str, run_b: str, filters: Filters | None = None) -> RunDiff:
        for run in (run_a, run_b):
            if run != LIVE:
                self.require_run(run)
        return diff_alerts(run_a, self.alerts(run_a, filters), run_b, self.alerts(run_b, filters))

    def live_activity(self, year: int) -> list[VerdictCountRow]:
        """Live ``query_verdicts`` (read only) counted per agency and verdict for one Pacific year."""
        from zoneinfo import ZoneInfo

        tz = ZoneInfo("America/Los_Angeles")
        start = dt.datetime(year, 1, 1, tzinfo=tz)
        end = dt.datetime(year + 1, 1, 1, tzinfo=tz)
        q = QueryVerdict
        query = (
            select(q.ori, func.max(q.component), q.data_source, q.purpose, q.verdict, func.count())
            .where(q.occurred_at >= start, q.occurred_at < end)
            .group_by(q.ori, q.data_source, q.purpose, q.verdict)
        )
        with self.engine.connect() as conn:
            return [
                VerdictCountRow(f"{year}", ori, comp, None, src, purpose, verdict, int(n))
                for ori, comp, src, purpose, verdict, n in conn.execute(query).all()
            ]


def _order_key(alert: dict[str, Any]) -> tuple[str, str, str, str]:
    return (str(alert["window_start"]), str(alert["rule"]), str(alert["key"]), str(alert["alert_id"]))


def _pacific_year(when: str) -> int:
    from zoneinfo import ZoneInfo

    return _parse_time(when).astimezone(ZoneInfo("America/Los_Angeles")).year


def _filter(query: Any, table: Any, filters: Filters | None) -> Any:
    if filters is None:
        return query
    if filters.year is not None:
        query = query.where(table.c.month.like(f"{filters.year:04d}-%"))
    if filters.ori:
        query = query.where(table.c.ori == filters.ori)
    if filters.component:
        query = query.where(table.c.component == filters.component)
    if filters.department:
        if "department" in table.c:
            query = query.where(table.c.department == filters.department)
        else:  # alerts carry no department: take the run's agencies of that department
            vc: Any = AuditVerdictCount.__table__
            oris = select(vc.c.ori).where(
                vc.c.run_id == table.c.run_id, vc.c.department == filters.department
            )
            query = query.where(table.c.ori.in_(oris))
    return query


def _count_by(items: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return dict(sorted(out.items()))


def _count_by_weighted(items: Iterable[tuple[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item, n in items:
        out[item] = out.get(item, 0) + n
    return dict(sorted(out.items()))


def _run_row(m: Any) -> RunRow:
    """A row of ``audit_runs`` (its mapping) as a ``RunRow``: the columns of the same names."""
    stored = {f.name: m[f.name] for f in dataclasses.fields(RunRow)}
    return RunRow(**{**stored, "counts": dict(m["counts"] or {})})


# ------------------------------------------------------------------------------ disclosure inputs


def agency_years(store: AuditStore, year: int, run_id: str | None = None) -> list[Any]:
    """Per-agency activity in a Pacific calendar year (``processors.disclosures.AgencyYear``): from an audit
    run's counts and alerts, or (``run_id`` None) from the live ``query_verdicts`` and ``alerts`` tables."""
    from processors.disclosures import PROHIBITED_QUERY_RULE, AgencyYear

    if run_id is not None and run_id != LIVE:
        store.require_run(run_id)
        counts = store.verdict_counts(run_id, Filters(year=year))
    else:
        counts = store.live_activity(year)
    alerts = store.alerts(run_id or LIVE, Filters(year=year))
    per: dict[str, dict[str, Any]] = {}
    for c in counts:
        a = per.setdefault(
            c.ori,
            {
                "queries": 0,
                "prohibited": 0,
                "component": c.component,
                "department": c.department,
                "alerts": 0,
                "prohibited_alerts": 0,
            },
        )
        a["queries"] += c.queries
        if c.verdict == "prohibited":
            a["prohibited"] += c.queries
        a["component"] = a["component"] or c.component
        a["department"] = a["department"] or c.department
    for alert in alerts:
        found = per.get(alert["ori"])
        if found is None or alert.get("status") != "fired":
            continue
        found["alerts"] += 1
        if alert["rule"] == PROHIBITED_QUERY_RULE:
            found["prohibited_alerts"] += 1
    return [
        AgencyYear(
            ori=ori,
            year=year,
            queries=a["queries"],
            prohibited_queries=a["prohibited"],
            alerts=a["alerts"],
            prohibited_alerts=a["prohibited_alerts"],
            component=a["component"],
            department=a["department"],
        )
        for ori, a in sorted(per.items())
    ]


def filings(store: AuditStore, year: int | None = None) -> list[Any]:
    """The recorded disclosures as ``processors.disclosures.Filing`` values."""
    from processors.disclosures import Filing

    return [
        Filing(r.ori, r.year, r.filed_at, r.investigations_opened, r.outcomes)
        for r in store.disclosures.filings(year=year)
    ]
