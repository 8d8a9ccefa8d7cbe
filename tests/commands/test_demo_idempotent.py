"""``make demo`` twice adds nothing: the second run finds its events in the database and does not produce
them again (they would come back as `late` dead letters, older than the worker's duplicate memory)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from clets_watch.commands.demo import DEMO_START, already_recorded
from clets_watch.settings import Settings
from processors.build import PipelineOverrides, build_pipeline
from producers.simulator import LabelledEvent, generate
from sinks.writer import SinkBatch
from tests.sinks.stores import Stores


def demo_events(seed: int, minutes: float, *scenarios: str) -> list[LabelledEvent]:
    """What a demo with this seed, length and scenarios produces (2 events/s from the demo's start)."""
    start = dt.datetime.fromisoformat(DEMO_START)
    duration = dt.timedelta(minutes=minutes)
    return list(generate(seed=seed, start=start, duration=duration, rate_per_second=2.0, scenarios=scenarios))


def test_the_demo_knows_its_events_are_already_recorded(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, db_url=f"sqlite:///{tmp_path / 'demo.db'}")
    items = demo_events(2019, 5, "raid")
    assert not already_recorded(settings, items)
    pipeline = build_pipeline(settings, PipelineOverrides(pseudonym_key=b"demo-test")).new()
    import json

    processed = [r.processed for r in (pipeline.process_raw(json.dumps(i.event).encode()) for i in items)]
    with Stores.open(settings.database_url) as sink:
        sink.writer.write_batch(SinkBatch(processed=[p for p in processed[:-1] if p is not None]))
    assert not already_recorded(settings, items)  # the last one is missing: produce again
    with Stores.open(settings.database_url) as sink:
        sink.writer.write_batch(SinkBatch(processed=[p for p in processed if p is not None]))
    assert already_recorded(settings, items)
    other = demo_events(7, 1)
    assert not already_recorded(settings, other)
