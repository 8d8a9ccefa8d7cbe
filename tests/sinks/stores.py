"""The batch writer and the stores on one database, as the tests use them together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from sqlalchemy import Engine

from sinks.alert_store import AlertStore
from sinks.db import Clock, EngineOwner, open_engine, utcnow
from sinks.disclosures import DisclosureStore
from sinks.recommendations import RecommendationStore
from sinks.writer import BatchWriter


@dataclass(frozen=True)
class Stores(EngineOwner):
    """One engine, and the writer and stores sharing it (and one clock)."""

    engine: Engine
    writer: BatchWriter
    alerts: AlertStore
    recommendations: RecommendationStore
    disclosures: DisclosureStore

    @classmethod
    def open(cls, url: str, *, create: bool = True, clock: Clock = utcnow) -> Self:
        engine = open_engine(url, create=create)
        return cls(
            engine,
            BatchWriter(engine, clock=clock),
            AlertStore(engine, clock=clock),
            RecommendationStore(engine, clock=clock),
            DisclosureStore(engine),
        )
