"""Agency recommendations (normal, watch, suspend): the current one per agency, and the history of every
change, each appended to the hash chain (``sinks.ledger``) in the same transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import Engine, select

from sinks.db import Clock, SinkError, entries, insert_for, records_as, utcnow, write_transaction
from sinks.ledger import NewEntry, append_entry
from sinks.models import RECOMMENDATION_STATES, AgencyRecommendation, AgencyRecommendationHistory


class RecommendationRow(msgspec.Struct, frozen=True, kw_only=True):
    ori: str
    component: str | None
    state: str
    reason: str
    alert_ids: tuple[str, ...]
    actor: str
    at: dt.datetime


class RecommendationStore:
    """Set agencies' recommendations and read them back (current and history)."""

    def __init__(self, engine: Engine, *, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.clock = clock

    def recommend(
        self,
        ori: str,
        state: str,
        *,
        reason: str,
        actor: str,
        alert_ids: Sequence[str] = (),
        component: str | None = None,
    ) -> RecommendationRow:
        """Set an agency's recommendation (normal, watch, suspend) and append it to the history."""
        if state not in RECOMMENDATION_STATES:
            raise SinkError(f"unknown recommendation {state!r}: one of {', '.join(RECOMMENDATION_STATES)}")
        result = RecommendationRow(
            ori=ori,
            component=component,
            state=state,
            reason=reason,
            alert_ids=tuple(alert_ids),
            actor=actor,
            at=self.clock(),
        )
        row: dict[str, Any] = {**msgspec.structs.asdict(result), "alert_ids": list(alert_ids)}
        current: Any = AgencyRecommendation.__table__
        history: Any = AgencyRecommendationHistory.__table__
        stmt = insert_for(self.engine, current)
        stmt = stmt.on_conflict_do_update(
            index_elements=["ori"], set_={c: stmt.excluded[c] for c in row if c != "ori"}
        )
        with write_transaction(self.engine) as conn:
            conn.execute(stmt, row)
            new_id = conn.execute(history.insert().returning(history.c.id), row).scalar_one()
            append_entry(
                conn,
                NewEntry(
                    "agency", ori, state, actor, reason, result.at, f"agency_recommendation_history:{new_id}"
                ),
            )
        return result

    def current(self) -> list[RecommendationRow]:
        """Every agency's recommendation now, by ORI."""
        query = select(AgencyRecommendation).order_by(AgencyRecommendation.ori)
        return records_as(self.engine, query, RecommendationRow)

    def history(self, ori: str) -> list[RecommendationRow]:
        """Every recommendation the agency was given, oldest first."""
        return entries(self.engine, AgencyRecommendationHistory, RecommendationRow, ori=ori)
