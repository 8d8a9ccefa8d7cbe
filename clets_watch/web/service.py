"""What the console does, shared by the pages and the JSON API: build the views from the database
and carry out the actions (acknowledge, resolve, suspend or restore direct access)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

import msgspec

from clets_watch.web import models as m
from clets_watch.web.data import AlertFilters, ConsoleData, state_label
from processors.agencies import AgencyRegistry
from processors.recommendation import ACTIONS
from schemas import AccessDecision
from sinks.alert_store import AlertNotFound, AlertRow, AlertStore
from sinks.disclosures import DisclosureStore
from sinks.recommendations import RecommendationRow, RecommendationStore

AGENCY_ALERTS_SHOWN: Final = 20
ACCESS_STATES: Final[dict[str, str]] = {"suspend": "suspend", "restore": "normal"}
MAX_LINKED_ALERTS: Final = 50


class NotFound(LookupError):
    """No such alert or agency (the message names it)."""


@dataclass
class Console:
    alerts: AlertStore
    recommendations: RecommendationStore
    disclosures: DisclosureStore
    data: ConsoleData
    registry: AgencyRegistry
    # publishes a supervisor's access decision on clets.access-decisions (serve --publish-decisions)
    publish: Callable[[AccessDecision], None] | None = None

    # -- alerts ------------------------------------------------------------------------------

    def alert_out(self, row: AlertRow) -> m.AlertOut:
        agency = self.registry.get(row.ori)
        return m.AlertOut.model_validate(
            {
                **msgspec.structs.asdict(row),
                "agency_name": agency.name if agency else None,
                "state": state_label(row.status),
                "evidence_count": row.evidence.count,
                "url": f"/alerts/{row.alert_id}",
                "repeats_alert_id": _repeated(row.suppressed_reason),
            }
        )

    def alert_list(self, filters: AlertFilters) -> m.AlertList:
        rows, total = self.data.alerts(filters)
        return m.AlertList(
            total=total,
            limit=filters.limit,
            offset=filters.offset,
            counts_by_state=self.data.state_counts(),
            alerts=[self.alert_out(r) for r in rows],
        )

    def alert_detail(self, alert_id: str) -> m.AlertDetail:
        row = self.alerts.get_alert(alert_id)
        if row is None:
            raise NotFound(f"no alert {alert_id!r}")
        events = self.data.evidence_events(list(row.evidence.event_ids))
        clauses = sorted({*row.evidence.policy_rules} | {r for e in events for r in e.rules})
        return m.AlertDetail(
            alert=self.alert_out(row),
            evidence=m.Evidence.model_validate(row.evidence, from_attributes=True),
            policy_clauses=clauses,
            verdict_counts=dict(sorted(Counter(e.verdict for e in events).items())),
            evidence_events=events,
            ledger=[
                m.LedgerEntry.model_validate(e, from_attributes=True)
                for e in self.alerts.alert_ledger(alert_id)
            ],
            agency_url=f"/agencies/{row.ori}",
        )

    def act_on_alert(self, alert_id: str, action: str, actor: str, note: str) -> m.LedgerEntry:
        """Acknowledge or resolve; raises NotFound, or sinks.alert_store.AlertStateError when not allowed now."""
        act = {"acknowledge": self.alerts.acknowledge, "resolve": self.alerts.resolve}[action]
        try:
            entry = act(alert_id, actor, note.strip())
        except AlertNotFound:
            raise NotFound(f"no alert {alert_id!r}") from None
        return m.LedgerEntry.model_validate(entry, from_attributes=True)

    # -- agencies ----------------------------------------------------------------------------

    def _current_recommendations(self) -> dict[str, RecommendationRow]:
        return {r.ori: r for r in self.recommendations.current()}

    def agency_summary(
        self, ori: str, *, open_alerts: int, current: RecommendationRow | None
    ) -> m.AgencySummary:
        agency = self.registry.get(ori)
        return m.AgencySummary(
            ori=ori,
            name=agency.name if agency else None,
            kind=agency.kind if agency else None,
            department=agency.department if agency else None,
            component=agency.component if agency else (current.component if current else None),
            open_alerts=open_alerts,
            recommendation=(current.state if current else "normal"),
            url=f"/agencies/{ori}",
        )

    def agencies(self) -> list[m.AgencySummary]:
        current = self._current_recommendations()
        open_counts = self.data.open_alert_counts()
        rank = {"suspend": 0, "watch": 1, "normal": 2}
        out = [
            self.agency_summary(ori, open_alerts=open_counts.get(ori, 0), current=current.get(ori))
            for ori in self.data.agency_oris()
        ]
        return sorted(out, key=lambda a: (rank[a.recommendation], -a.open_alerts, a.ori))

    def agency_detail(self, ori: str) -> m.AgencyDetail:
        known = self.registry.get(ori) is not None or ori in self.data.agency_oris()
        if not known:
            raise NotFound(f"no agency {ori!r} in the registry or the database")
        current = self._current_recommendations().get(ori)
        rows, _ = self.data.alerts(AlertFilters(ori=ori, limit=AGENCY_ALERTS_SHOWN))
        traffic = self.data.traffic(ori)
        disclosures = [d for d in self.disclosures.filings() if d.ori == ori]
        return m.AgencyDetail(
            agency=self.agency_summary(
                ori, open_alerts=self.data.open_alert_counts().get(ori, 0), current=current
            ),
            traffic=m.TrafficOut(
                bucket_seconds=traffic.bucket_seconds,
                first=traffic.first,
                last=traffic.last,
                total=traffic.total,
                immigration_enforcement=traffic.immigration,
                immigration_share=round(traffic.immigration_share, 4),
                data_sources=traffic.data_sources,
                points=[
                    m.TrafficPoint(
                        start=b.start,
                        total=b.total,
                        immigration_enforcement=b.immigration,
                        by_data_source=dict(sorted(b.by_data_source.items())),
                    )
                    for b in traffic.buckets
                ],
            ),
            recommendation=_recommendation(current) if current else None,
            recommendation_history=[_recommendation(r) for r in reversed(self.recommendations.history(ori))],
            disclosures=[
                m.DisclosureOut.model_validate(d, from_attributes=True)
                for d in sorted(disclosures, key=lambda d: -d.year)
            ],
            alerts=[self.alert_out(r) for r in rows],
            alert_counts_by_state=self.data.state_counts(ori),
        )

    def change_access(
        self, ori: str, action: str, actor: str, reason: str, *, at: dt.datetime | None = None
    ) -> m.RecommendationOut:
        """Suspend direct access (written requests only) or restore it; recorded with who and why. ``at``
        (default: now) is when the decision takes effect (``clets-watch access --at``, checked there)."""
        detail_known = self.registry.get(ori) is not None or ori in self.data.agency_oris()
        if not detail_known:
            raise NotFound(f"no agency {ori!r} in the registry or the database")
        agency = self.registry.get(ori)
        open_ids: list[str] = []
        if action == "suspend":
            rows, _ = self.data.alerts(AlertFilters(ori=ori, state="open", limit=MAX_LINKED_ALERTS))
            open_ids = [r.alert_id for r in rows]
        row = self.recommendations.recommend(
            ori,
            ACCESS_STATES[action],
            reason=reason.strip(),
            actor=actor,
            alert_ids=open_ids,
            component=agency.component if agency else None,
        )
        self._enforce(ori, action, actor, reason.strip(), at or dt.datetime.now(dt.UTC))
        return _recommendation(row)

    def _enforce(self, ori: str, action: str, actor: str, reason: str, when: dt.datetime) -> None:
        """The decision the pipeline enforces: kept in the database (replay, a restarted worker) and
        journalled in the ledger, and, when the console publishes, on the compacted topic the running
        worker reads."""
        from processors.access_decisions import decision_id, effective_text
        from sinks.access_decisions import record_decision

        at = effective_text(when)
        kind: Literal["suspend", "restore"] = "suspend" if action == "suspend" else "restore"
        decision = AccessDecision(
            decision_id=decision_id(ori, kind, at, actor),
            ori=ori,
            action=kind,
            effective_at=at,
            by=actor,
            reason=reason,
        )
        record_decision(self.data.engine, decision)
        if self.publish is not None:
            self.publish(decision)


def _repeated(reason: str | None) -> str | None:
    """The alert a suppressed re-alert repeats (its reason names it: "... of alert <id> for window ...")."""
    import re

    found = re.search(r"of alert ([0-9a-f]{32})", reason or "")
    return found.group(1) if found else None


def _recommendation(r: RecommendationRow) -> m.RecommendationOut:
    return m.RecommendationOut.model_validate(
        {**msgspec.structs.asdict(r), "action": ACTIONS.get(r.state, r.state)}
    )
