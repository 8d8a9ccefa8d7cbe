"""The sink never retries a refused row forever (issue 13): a data error is bisected, the refused records
dead-lettered as ``sink_rejected`` with the database's message and the rest written; a transient error is
retried with backoff and counted. And every metric label set is bounded."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from clets_watch.settings import Settings
from processors.agencies import AgencyRegistry
from processors.app import WorkerRuntime
from processors.unknown_keys import DOMAIN_MESSAGE_KEYS
from schemas import DEAD_LETTER_REASONS, DeadLetter
from sinks.db import count_rows
from sinks.metrics import Metrics
from sinks.writer import Checkpoint, SinkBatch, is_data_error, is_transient, storable
from tests.processors.factories import make_alert, pe
from tests.sinks.stores import Stores

REGISTRY = AgencyRegistry.load()


def sink(tmp_path: Path) -> Stores:
    return Stores.open(f"sqlite:///{tmp_path / 'sink.db'}")


def poison(event_id: str) -> Any:
    """A verdict the database refuses: operator is NOT NULL."""
    return msgspec.structs.replace(pe(event_id), operator=None)


def test_a_refused_record_is_dead_lettered_and_the_rest_written(tmp_path: Path) -> None:
    s = sink(tmp_path)
    good = [pe(f"ok-{i}", i, source=f"t/0/{i}") for i in range(37)]
    bad = [poison("bad-1"), poison("bad-2")]
    batch = SinkBatch(
        processed=good[:10] + [bad[0]] + good[10:30] + [bad[1]] + good[30:],
        dead_letters=[DeadLetter(reason="malformed_json", detail="x", payload=b"{", source="t/0/99")],
        checkpoints=[Checkpoint("g", "t", 0, 100, b"state")],
    )
    written = s.writer.write_batch_resilient(batch)
    assert sorted(d.event_id or "" for d in written.rejected) == ["bad-1", "bad-2"]
    assert all(d.reason == "sink_rejected" and "NOT NULL" in d.detail for d in written.rejected)
    assert written.attempts < 2 * 2 * 8  # bisection: O(refused * log n) writes, not one per record
    counts = count_rows(s.engine)
    assert counts["query_verdicts"] == 37 and counts["dead_letters"] == 3
    assert s.writer.load_checkpoint("g", "t", 0) is not None  # the offsets move on
    again = s.writer.write_batch_resilient(batch)  # idempotent: nothing doubles
    assert count_rows(s.engine)["dead_letters"] == 3 and len(again.rejected) == 2


def test_a_clean_batch_is_one_write(tmp_path: Path) -> None:
    written = sink(tmp_path).writer.write_batch_resilient(SinkBatch(processed=[pe("a"), pe("b", 1)]))
    assert written.rejected == [] and written.attempts == 1 and written.result.verdicts_inserted == 2


def test_dead_letter_text_is_made_storable() -> None:
    assert storable("a\x00b\nc") == "a\\u0000b\\u000ac"


def test_error_kinds() -> None:
    assert is_transient(OperationalError("SELECT 1", {}, Exception("server closed the connection")))
    assert not is_transient(DataError("INSERT", {}, Exception("cannot contain NUL")))
    assert is_data_error(DataError("INSERT", {}, Exception("cannot contain NUL")))
    assert is_data_error(IntegrityError("INSERT", {}, Exception("NOT NULL")))
    assert not is_data_error(OperationalError("SELECT 1", {}, Exception("timeout")))


class FlakySink:
    """Fails with a transient error ``n`` times, then writes: the retry logic of the worker under test."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.calls = 0

    def write_batch_resilient(self, batch: SinkBatch) -> Any:
        from sinks.writer import BatchResult, ResilientResult

        self.calls += 1
        if self.calls <= self.n:
            raise OperationalError("INSERT", {}, Exception("could not connect"))
        return ResilientResult(BatchResult(), [DeadLetter(reason="sink_rejected", detail="x", payload=b"p")])


def test_the_worker_retries_transient_errors_with_backoff_and_counts_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    flaky = FlakySink(3)
    rt = WorkerRuntime(
        settings=Settings(),
        pipelines=None,  # type: ignore[arg-type]  # the retry path reads no pipeline
        sink=flaky,  # type: ignore[arg-type]
        metrics=metrics,
        key_note="",
        registry=REGISTRY,
        executor=ThreadPoolExecutor(max_workers=1),
    )
    sleeps: list[float] = []

    async def no_sleep(delay: float) -> None:
        sleeps.append(delay)

    monkeypatch.setattr(asyncio, "sleep", no_sleep)
    asyncio.run(rt.write_with_retry(SinkBatch(), pending=5))
    assert flaky.calls == 4 and sleeps == [0.5, 1.0, 2.0]
    assert registry.get_sample_value("clets_watch_sink_retries_total", {"kind": "transient"}) == 3
    assert registry.get_sample_value("clets_watch_dead_letter_total", {"reason": "sink_rejected"}) == 1
    assert registry.get_sample_value("clets_watch_sink_backlog") == 0


# ---------------------------------------------------------------------------------------- bounded labels


def test_every_metric_label_set_is_bounded() -> None:
    """2,000 events with random ORIs, message keys and dead-letter reasons make no new series beyond the
    registry's ORIs (or ``unknown``) and the known message keys (or ``other``)."""
    registry = CollectorRegistry()
    m = Metrics(registry, rules=["prohibited_query"])
    m.bound_labels(REGISTRY)
    rng = random.Random(13)
    oris = [a.ori for a in REGISTRY]

    def word(n: int) -> str:
        return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 é\u200b") for _ in range(n))

    events = []
    for i in range(2000):
        ori = rng.choice(oris) if i % 3 == 0 else "CA" + word(7)
        agency = REGISTRY.get(ori)
        events.append(
            msgspec.structs.replace(
                pe(
                    f"e{i}",
                    i,
                    ori=ori,
                    message_type=word(rng.randint(1, 256))
                    if i % 2
                    else rng.choice(sorted(DOMAIN_MESSAGE_KEYS)),
                    department=agency.department if agency else None,
                ),
                component=agency.component if agency else None,
            )
        )
    dead = [
        DeadLetter(reason=rng.choice([*DEAD_LETTER_REASONS, word(30)]), detail="d", payload=b"p")
        for _ in range(500)
    ]
    alert = make_alert("a", ori="CAZZZZZZZ", key="k")
    m.observe(processed=events, dead_letters=dead, alerts=[alert], watermark=dt.datetime.now(dt.UTC))
    m.set_recommendation("CAZZZZZZZ", None, "watch")
    m.set_consumer_lag({0: 3, 1: 0})
    m.observe_sink_retry("something new")

    allowed = {
        "ori": {*oris, "unknown"},
        "component": {a.component for a in REGISTRY if a.component} | {"none"},
        "message_type": set(DOMAIN_MESSAGE_KEYS) | {"other"},
        "verdict": {"allowed", "review", "prohibited"},
        "purpose": {"immigration_enforcement", "criminal_justice", "non_criminal_justice", "unknown"},
        "rule": {"prohibited_query"},
        "severity": {"critical", "high", "warning", "info"},
        "status": {"fired", "suppressed"},
        "reason": {*DEAD_LETTER_REASONS, "other"},
        "state": {"normal", "watch", "suspend"},
        "partition": {"0", "1"},
        "kind": {"transient", "error"},
        "le": None,  # histogram buckets: fixed
    }
    series = 0
    for family in registry.collect():
        for sample in family.samples:
            series += 1
            for name, value in sample.labels.items():
                assert name in allowed, f"{family.name}: label {name} has no bound"
                bound = allowed[name]
                assert bound is None or value in bound, (
                    f"{family.name}: {name}={value!r} is outside its bound"
                )
    assert series < 5000


def test_a_message_both_late_and_conflicting_keeps_both_dead_letters(tmp_path: Path) -> None:
    s = sink(tmp_path)
    late = DeadLetter(reason="late", detail="late", payload=b"{}", source="t/0/600", event_id="e")
    conflict = DeadLetter(
        reason="conflicting_duplicate", detail="c", payload=b"{}", source="t/0/600", event_id="e"
    )
    s.writer.write_batch(SinkBatch(dead_letters=[conflict, late]))
    s.writer.write_batch(SinkBatch(dead_letters=[conflict, late]))  # redelivered: nothing doubles
    assert count_rows(s.engine)["dead_letters"] == 2
