"""The console's read side: queries the pages and the API need beyond the stores' own
(alert filters on component and state, evidence events, per-agency traffic over time).

Everything read here is already PII-free in the database: operators and subjects are pseudonyms.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from clets_watch.web.models import EvidenceEvent
from sinks.alert_store import AlertRow, alert_rows, select_alerts
from sinks.models import UTC, AgencyRecommendation, AlertRecord, QueryVerdict, WindowAggregate

# What the console calls a state, and what the database stores for it.
STATE_FILTERS: Final[dict[str, str]] = {
    "open": "fired",
    "acknowledged": "acknowledged",
    "resolved": "resolved",
    "suppressed": "suppressed",
}
STATE_LABELS: Final[dict[str, str]] = {v: k for k, v in STATE_FILTERS.items()}
SEVERITIES: Final = ("critical", "high", "medium", "low", "info")
IMMIGRATION: Final = "immigration_enforcement"
MAX_EVIDENCE_EVENTS: Final = 200
TRAFFIC_BUCKETS: Final = 48
TRAFFIC_SPAN: Final = dt.timedelta(hours=24)


def state_label(stored: str) -> str:
    return STATE_LABELS.get(stored, stored)


@dataclass(frozen=True, slots=True)
class AlertFilters:
    severity: str | None = None
    rule: str | None = None
    ori: str | None = None
    component: str | None = None
    state: str | None = None  # open, acknowledged, resolved, suppressed
    limit: int = 100
    offset: int = 0

    def as_query(self) -> dict[str, str]:
        return {
            k: str(v)
            for k, v in (
                ("severity", self.severity),
                ("rule", self.rule),
                ("ori", self.ori),
                ("component", self.component),
                ("state", self.state),
            )
            if v
        }


@dataclass(frozen=True, slots=True)
class Facets:
    rules: list[str]
    oris: list[str]
    components: list[str]


@dataclass(slots=True)
class TrafficBucket:
    start: dt.datetime
    by_data_source: dict[str, int] = field(default_factory=dict)
    total: int = 0
    immigration: int = 0


@dataclass(frozen=True, slots=True)
class Traffic:
    bucket_seconds: int
    buckets: list[TrafficBucket]
    data_sources: list[str]
    total: int
    immigration: int
    first: dt.datetime | None
    last: dt.datetime | None

    @property
    def immigration_share(self) -> float:
        return self.immigration / self.total if self.total else 0.0


class ConsoleData:
    """Read queries over one database, next to the stores that write and act on it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def alerts(self, f: AlertFilters) -> tuple[list[AlertRow], int]:
        """Alerts matching ``f``, newest window first, and how many match in all."""
        query = select_alerts()
        if f.severity:
            query = query.where(AlertRecord.severity == f.severity)
        if f.rule:
            query = query.where(AlertRecord.rule == f.rule)
        if f.ori:
            query = query.where(AlertRecord.ori == f.ori)
        if f.component:
            query = query.where(AlertRecord.component == f.component)
        if f.state:
            query = query.where(AlertRecord.state == STATE_FILTERS.get(f.state, f.state))
        count_query = select(func.count()).select_from(query.subquery())
        query = (
            query.order_by(AlertRecord.window_start.desc(), AlertRecord.severity, AlertRecord.alert_id)
            .limit(f.limit)
            .offset(f.offset)
        )
        with self.engine.connect() as conn:
            rows = alert_rows(conn.execute(query))
            total = int(conn.scalar(count_query) or 0)
        return rows, total

    def state_counts(self, ori: str | None = None) -> dict[str, int]:
        query = select(AlertRecord.state, func.count()).group_by(AlertRecord.state)
        if ori:
            query = query.where(AlertRecord.ori == ori)
        with self.engine.connect() as conn:
            counts = {state_label(s): int(n) for s, n in conn.execute(query).all()}
        return {label: counts.get(label, 0) for label in STATE_FILTERS}

    def facets(self) -> Facets:
        with self.engine.connect() as conn:
            rules = sorted(conn.scalars(select(AlertRecord.rule).distinct()).all())
            oris = sorted(conn.scalars(select(AlertRecord.ori).distinct()).all())
            comps = sorted(c for c in conn.scalars(select(AlertRecord.component).distinct()).all() if c)
        return Facets(rules=rules, oris=oris, components=comps)

    def evidence_events(self, event_ids: list[str]) -> list[EvidenceEvent]:
        ids = list(dict.fromkeys(event_ids))[:MAX_EVIDENCE_EVENTS]
        if not ids:
            return []
        query = select(QueryVerdict).where(QueryVerdict.event_id.in_(ids)).order_by(QueryVerdict.occurred_at)
        with Session(self.engine) as session:
            return [
                EvidenceEvent.model_validate(r, from_attributes=True) for r in session.scalars(query).all()
            ]

    def agency_oris(self) -> list[str]:
        """Every ORI the database knows of: with traffic, alerts or a recommendation."""
        with self.engine.connect() as conn:
            seen = set(conn.scalars(select(WindowAggregate.ori).distinct()).all())
            seen |= set(conn.scalars(select(AlertRecord.ori).distinct()).all())
            seen |= set(conn.scalars(select(AgencyRecommendation.ori)).all())
        return sorted(seen)

    def open_alert_counts(self) -> dict[str, int]:
        query = (
            select(AlertRecord.ori, func.count())
            .where(AlertRecord.state.in_(("fired", "acknowledged")))
            .group_by(AlertRecord.ori)
        )
        with self.engine.connect() as conn:
            return {ori: int(n) for ori, n in conn.execute(query).all()}

    def traffic(
        self, ori: str, *, span: dt.timedelta = TRAFFIC_SPAN, buckets: int = TRAFFIC_BUCKETS
    ) -> Traffic:
        """The agency's closed-window counts over the ``span`` before its latest window, by data
        source, in at most ``buckets`` equal time buckets (the latest revision of each window)."""
        agg = WindowAggregate
        with self.engine.connect() as conn:
            kinds = sorted(
                conn.scalars(select(agg.window_kind).distinct().where(agg.ori == ori)).all(),
                key=_kind_seconds,
            )
            tumbling = [k for k in kinds if k.startswith("tumbling-")]
            if not tumbling:
                return Traffic(60, [], [], 0, 0, None, None)
            kind = tumbling[0]
            last = conn.scalar(
                select(func.max(agg.window_start)).where(agg.ori == ori, agg.window_kind == kind)
            )
            assert last is not None
            last = _aware(last)
            since = last - span
            rows = conn.execute(
                select(agg.window_start, agg.revision, agg.total, agg.by_data_source, agg.by_purpose)
                .where(agg.ori == ori, agg.window_kind == kind, agg.window_start > since)
                .order_by(agg.window_start, agg.revision)
            ).all()
        latest: dict[dt.datetime, Any] = {}
        for row in rows:
            latest[_aware(row.window_start)] = row  # ordered by revision: the last one wins
        first = min(latest)
        window = _kind_seconds(kind)
        extent = (last - first).total_seconds() + window
        bucket_seconds = _nice_bucket(extent / buckets, window)
        origin = dt.datetime.fromtimestamp(first.timestamp() // bucket_seconds * bucket_seconds, UTC)
        by_bucket: dict[dt.datetime, TrafficBucket] = {}
        sources: dict[str, int] = defaultdict(int)
        total = immigration = 0
        for start, row in latest.items():
            index = int((start - origin).total_seconds() // bucket_seconds)
            bstart = origin + dt.timedelta(seconds=index * bucket_seconds)
            bucket = by_bucket.setdefault(bstart, TrafficBucket(start=bstart))
            for source, n in dict(row.by_data_source).items():
                bucket.by_data_source[source] = bucket.by_data_source.get(source, 0) + int(n)
                sources[source] += int(n)
            imm = int(dict(row.by_purpose).get(IMMIGRATION, 0))
            bucket.total += int(row.total)
            bucket.immigration += imm
            total += int(row.total)
            immigration += imm
        # fill the gaps, so a silent stretch shows as silence
        end_index = int((last - origin).total_seconds() // bucket_seconds)
        filled = [
            by_bucket.get(b, TrafficBucket(start=b))
            for b in (origin + dt.timedelta(seconds=i * bucket_seconds) for i in range(end_index + 1))
        ]
        ordered = [s for s, _ in sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))]
        return Traffic(
            bucket_seconds, filled, ordered, total, immigration, first, last + dt.timedelta(seconds=window)
        )


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _kind_seconds(kind: str) -> int:
    digits = "".join(ch for ch in kind.split("-")[1] if ch.isdigit()) if "-" in kind else ""
    return int(digits) if digits else 60


def _nice_bucket(seconds: float, window: int) -> int:
    for step in (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400):
        if step >= seconds and step >= window and step % window == 0:
            return step
    return 86400
