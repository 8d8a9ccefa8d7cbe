"""Faults, for real: kill -9 a worker mid-window, scale out and lose a worker, lose PostgreSQL and
the Kafka broker under load. After each, the database equals an offline replay of the same stream
through the pure core: 0 events lost, 0 counted twice, the same alert ids and aggregates.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clets_watch.kafka_admin import group_lag
from clets_watch.stack import Stack
from producers.kafka_out import produce
from producers.simulator import generate
from sinks.db import count_rows
from tests.integration.workers import (
    WorkerProcess,
    offline_expected,
    read_topic,
    stored,
    wait_progress,
    worker_env,
)
from tests.sinks.stores import Stores

pytestmark = pytest.mark.integration

START = dt.datetime.fromisoformat("2019-06-12T04:00:00-07:00")


def make_stream(bootstrap: str, topic: str, *, minutes: int, rate: float, seed: int) -> list[Any]:
    items = list(
        generate(
            seed=seed,
            start=START,
            duration=dt.timedelta(minutes=minutes),
            rate_per_second=rate,
            scenarios=["raid", "snooping"],
        )
    )
    result = produce(items, bootstrap=bootstrap, topic=topic, create_topic=False)
    assert result.sent == len(items)
    return items


def verdict_rows(db_url: str) -> int:
    sink = Stores.open(db_url)
    try:
        return count_rows(sink.engine)["query_verdicts"]
    finally:
        sink.close()


def checkpointed(db_url: str) -> int:
    from sqlalchemy import func, select

    from sinks.models import PipelineCheckpoint

    sink = Stores.open(db_url)
    try:
        with sink.engine.connect() as conn:
            return int(
                conn.execute(select(func.coalesce(func.sum(PipelineCheckpoint.next_offset), 0))).scalar_one()
            )
    finally:
        sink.close()


def wait_until(
    predicate: Any, timeout: float, what: str, worker: WorkerProcess | None = None, progress: Any = None
) -> float:
    """Wait for ``predicate()``. With ``progress`` (e.g. rows written), ``timeout`` is a budget for no
    progress, so a busy machine is slower, not failed; the timeout says how far it got."""

    def done() -> bool:
        if predicate():
            return True
        if worker is not None and not worker.alive():
            raise AssertionError(f"worker died while waiting for {what}:\n{worker.log()[-3000:]}")
        return False

    measure = progress if progress is not None else (lambda: 0)
    return wait_progress(
        done, measure, stall=timeout, what=what, poll=0.1, cap_factor=10.0 if progress is not None else 1.0
    )


def report(name: str, **figures: Any) -> None:
    print(f"\n[fault:{name}] " + " ".join(f"{k}={v}" for k, v in figures.items()))


def assert_equal_to_offline(run: FaultRun, name: str, **figures: Any) -> None:
    records = read_topic(run.bootstrap, run.topic)
    expected = offline_expected(run.topic, records)
    got = stored(run.db_url)
    lost = expected["verdicts"] - got["verdicts"] if got["verdicts"] < expected["verdicts"] else 0
    report(
        name,
        messages=len(records),
        stored_verdicts=got["verdicts"],
        lost=lost,
        alerts=len(got["alert_ids"]),
        missing_alerts=len(expected["alert_ids"] - got["alert_ids"]),
        extra_alerts=len(got["alert_ids"] - expected["alert_ids"]),
        **figures,
    )
    assert got["verdicts"] == expected["verdicts"]
    assert got["alert_ids"] == expected["alert_ids"]
    assert got["aggregates"] == expected["aggregates"]
    assert got["dead_letters"] == expected["dead_letters"]


@pytest.fixture
def db_url(postgres_url: str) -> str:
    return postgres_url


@dataclass
class FaultRun:
    """A generated stream in its own topic, and the settings of the workers that consume it."""

    bootstrap: str
    db_url: str
    topic: str
    items: list[Any]
    group: str
    env: dict[str, str]
    logs: Path

    def rows(self) -> int:
        return verdict_rows(self.db_url)

    def worker(self, log: str = "worker.log") -> WorkerProcess:
        """A worker of the consumer group, started, logging to ``log``."""
        return WorkerProcess(env=self.env, log_path=self.logs / log).start()

    def wait_stored(self, worker: WorkerProcess, timeout: float, expected: int | None = None) -> float:
        """Wait until ``worker`` has consumed the topic and the database holds ``expected`` verdicts (the
        whole stream unless given)."""
        wanted = len(self.items) if expected is None else expected
        return worker.wait_stored(
            self.bootstrap, self.group, self.topic, rows=self.rows, expected=wanted, timeout=timeout
        )


@pytest.fixture
def fault_run(kafka_bootstrap: str, kafka_topic: Any, db_url: str, tmp_path: Path) -> Callable[..., FaultRun]:
    """Makes a ``FaultRun``: a topic and a consumer group named after the fault, the stream produced."""

    def make(
        name: str, *, minutes: int, rate: float, seed: int, partitions: int = 1, metrics_port: int = 0
    ) -> FaultRun:
        topic = kafka_topic(name, partitions=partitions)
        items = make_stream(kafka_bootstrap, topic, minutes=minutes, rate=rate, seed=seed)
        group = f"{name}-{uuid.uuid4().hex[:6]}"
        env = worker_env(kafka_bootstrap, topic, group, db_url, tmp_path / "home", metrics_port=metrics_port)
        return FaultRun(kafka_bootstrap, db_url, topic, items, group, env, tmp_path)

    return make


def test_kill_9_mid_window_and_restart_loses_and_doubles_nothing(fault_run: Callable[..., FaultRun]) -> None:
    run = fault_run("kill9", minutes=90, rate=6.0, seed=707)
    first = run.worker("worker-1.log")
    try:
        wait_until(
            lambda: checkpointed(run.db_url) > 0 and run.rows() > len(run.items) // 4,
            90,
            "a checkpoint and a quarter of the stream",
            first,
            progress=run.rows,
        )
        at_kill = run.rows()
        first.stop(signal.SIGKILL)
        assert first.proc is not None and first.proc.returncode == -signal.SIGKILL
    finally:
        first.stop()
    assert at_kill < len(run.items), "the worker finished before it could be killed: make the stream longer"
    began = time.monotonic()
    second = run.worker("worker-2.log")
    try:
        run.wait_stored(second, timeout=120)
        recovered = time.monotonic() - began
    finally:
        second.stop()
    assert "resuming" in second.log(), "the restarted worker must resume from the checkpoint"
    assert_equal_to_offline(run, "kill-9", killed_after=at_kill, recovered_s=round(recovered, 1))


def test_scale_out_then_lose_a_worker(fault_run: Callable[..., FaultRun]) -> None:
    run = fault_run("scale", minutes=90, rate=6.0, seed=808, partitions=4)
    a = run.worker("worker-a.log")
    b = run.worker("worker-b.log")
    try:
        wait_until(
            lambda: run.rows() > len(run.items) // 4, 120, "a quarter of the stream", a, progress=run.rows
        )
        a.stop(signal.SIGKILL)
        began = time.monotonic()
        run.wait_stored(b, timeout=150)
        taken_over = time.monotonic() - began
    finally:
        a.stop()
        b.stop()
    assert_equal_to_offline(run, "scale-out", partitions=4, takeover_s=round(taken_over, 1))


def test_postgresql_outage_under_load(fault_run: Callable[..., FaultRun], stack: Any) -> None:
    run = fault_run("pgdown", minutes=60, rate=4.0, seed=909)
    keep_data = Stack(dataclasses.replace(stack.config, fresh=False))
    worker = run.worker()
    try:
        wait_until(lambda: checkpointed(run.db_url) > 0, 90, "a first checkpoint", worker)
        keep_data.down(["postgres"])
        down_at = time.monotonic()
        time.sleep(2)  # offsets acked before the outage are committed within the 1 s commit interval
        lag_at_outage = group_lag(run.bootstrap, run.group, run.topic)
        time.sleep(6)  # the worker goes on consuming; nothing can be written, so nothing more is acked
        lag_during = group_lag(run.bootstrap, run.group, run.topic)
        assert worker.alive(), f"the worker must survive the outage:\n{worker.log()[-3000:]}"
        # No offset is committed past data the database has not stored: the committed offsets stand still.
        assert lag_during == lag_at_outage
        keep_data.up(["postgres"])
        outage = time.monotonic() - down_at
        began = time.monotonic()
        run.wait_stored(worker, timeout=150)
        drained = time.monotonic() - began
    finally:
        worker.stop()
        keep_data.up(["postgres"])
    assert "database write failed" in worker.log()
    assert_equal_to_offline(
        run, "postgres-outage", outage_s=round(outage, 1), drained_s=round(drained, 1), lag_held=lag_during
    )


def test_kafka_broker_restart_under_load(fault_run: Callable[..., FaultRun], stack: Any) -> None:
    run = fault_run("brokerdown", minutes=60, rate=4.0, seed=1010)
    keep_data = Stack(dataclasses.replace(stack.config, fresh=False))
    worker = run.worker()
    try:
        wait_until(lambda: run.rows() > 0, 90, "the worker to start consuming", worker)
        keep_data.down(["kafka"])
        time.sleep(3)
        keep_data.up(["kafka"])
        began = time.monotonic()
        # More traffic after the restart: the worker must reconnect and catch up.
        more = list(
            generate(
                seed=1011,
                start=START + dt.timedelta(hours=1),
                duration=dt.timedelta(minutes=20),
                rate_per_second=4.0,
            )
        )
        produce(more, bootstrap=run.bootstrap, topic=run.topic, create_topic=False)
        run.wait_stored(worker, timeout=180, expected=len(run.items) + len(more))
        caught_up = time.monotonic() - began
    finally:
        worker.stop()
        keep_data.up(["kafka"])
    assert_equal_to_offline(run, "broker-restart", caught_up_s=round(caught_up, 1))


def test_no_clear_pii_in_database_logs_metrics_or_alerts_topic(
    fault_run: Callable[..., FaultRun], db_url: str, free_port: Any
) -> None:
    import urllib.request

    from sqlalchemy import inspect, text

    port = free_port()
    run = fault_run("pii", minutes=30, rate=4.0, seed=1111, metrics_port=port)
    clear = set()
    for item in run.items:
        for value in (item.event.get("subject") or {}).values():
            if isinstance(value, str) and len(value) >= 5:
                clear.add(value)
        clear.add(item.event["operator_id"])
    assert len(clear) > 100
    worker = run.worker()
    try:
        run.wait_stored(worker, timeout=120)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            metrics_text = resp.read().decode()
    finally:
        worker.stop()
    haystacks = {"metrics": metrics_text, "worker log": worker.log()}
    alerts = read_topic(run.bootstrap, f"{run.topic}.alerts")
    assert alerts, "the stream must raise alerts so the alerts topic is checked"
    haystacks["alerts topic"] = "\n".join(v.decode() for _p, _o, v in alerts)
    sink = Stores.open(db_url)
    try:
        with sink.engine.connect() as conn:
            dump = []
            for table in inspect(conn).get_table_names():
                for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                    dump.append(json.dumps([str(v) for v in row]))
        haystacks["database"] = "\n".join(dump)
    finally:
        sink.close()
    leaks = {where: sorted(v for v in clear if v in hay)[:5] for where, hay in haystacks.items()}
    report(
        "pii",
        clear_values=len(clear),
        scanned={k: len(v) for k, v in haystacks.items()},
        leaks=sum(len(v) for v in leaks.values()),
    )
    assert all(not v for v in leaks.values()), f"clear PII found: {leaks}"
