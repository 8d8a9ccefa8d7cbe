"""Agencies' annual misuse disclosures (one filing per agency and year; recording it again corrects it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from sqlalchemy import Engine, select

from sinks.db import insert_for, records_as
from sinks.models import DisclosureFiling


class DisclosureRow(msgspec.Struct, frozen=True, kw_only=True):
    ori: str
    year: int
    filed_at: dt.datetime | None
    investigations_opened: int | None
    outcomes: str | None


class DisclosureStore:
    """Record agencies' disclosure filings and read them back."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(
        self,
        ori: str,
        year: int,
        *,
        filed_at: dt.datetime | None,
        investigations_opened: int | None,
        outcomes: str | None = None,
    ) -> None:
        """Record (or correct) an agency's annual misuse disclosure for ``year``."""
        row = msgspec.structs.asdict(
            DisclosureRow(
                ori=ori,
                year=year,
                filed_at=filed_at,
                investigations_opened=investigations_opened,
                outcomes=outcomes,
            )
        )
        table: Any = DisclosureFiling.__table__
        stmt = insert_for(self.engine, table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["ori", "year"],
            set_={c: stmt.excluded[c] for c in row if c not in ("ori", "year")},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, row)

    def filings(self, *, year: int | None = None) -> list[DisclosureRow]:
        """The filings recorded (of ``year``, or all), by year then ORI."""
        query = select(DisclosureFiling).order_by(DisclosureFiling.year, DisclosureFiling.ori)
        if year is not None:
            query = query.where(DisclosureFiling.year == year)
        return records_as(self.engine, query, DisclosureRow)
