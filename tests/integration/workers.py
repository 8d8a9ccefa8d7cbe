"""Run the real ``clets-watch worker`` as a process for integration tests."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clets_watch.kafka_admin import group_lag


@dataclass
class WorkerProcess:
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    _log: object = field(default=None, repr=False)

    def start(self) -> WorkerProcess:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "clets_watch.cli", "worker", "--log-level", "info"],
            env={**os.environ, **self.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()  # type: ignore[attr-defined]
        return self.proc.returncode

    def wait_consumed(
        self,
        bootstrap: str,
        group: str,
        topic: str,
        *,
        timeout: float = 120.0,
        also: Callable[[], bool] | None = None,
        progress: Callable[[], int] | None = None,
    ) -> float:
        """Wait until the group's lag on ``topic`` is 0 (and ``also()`` holds); return seconds waited.

        ``timeout`` is a budget for *no progress*, not for the whole wait: as long as the lag falls (or
        ``progress()``, e.g. the rows written, rises) within ``timeout`` seconds, the wait goes on, so a
        machine busy with other work is slow, not failed. A timeout says how far the worker got."""
        state: dict[str, int] = {}

        def measure() -> float:
            lag = group_lag(bootstrap, group, topic)
            state["lag"] = lag
            state.setdefault("first_lag", lag)
            done = -lag
            if progress is not None:
                state["progress"] = progress()
                done += state["progress"]
            return done

        def finished() -> bool:
            if not self.alive():
                raise AssertionError(
                    f"worker exited with {self.proc.returncode if self.proc else None}:\n{self.log()[-4000:]}"
                )
            return state.get("lag") == 0 and (also is None or also())

        def where() -> str:
            got = f"lag {state.get('first_lag', '?')} -> {state.get('lag', '?')} on {topic}"
            if "progress" in state:
                got += f", progress {state['progress']}"
            return got + f"\n{self.log()[-4000:]}"

        return wait_progress(finished, measure, stall=timeout, what=f"worker to consume {topic}", where=where)

    def wait_stored(
        self,
        bootstrap: str,
        group: str,
        topic: str,
        *,
        rows: Callable[[], int],
        expected: int,
        timeout: float,
    ) -> float:
        """``wait_consumed`` until ``rows()`` (e.g. the verdicts in the database) reaches ``expected``; the
        rows written count as progress."""
        return self.wait_consumed(
            bootstrap, group, topic, timeout=timeout, also=lambda: rows() >= expected, progress=rows
        )


def wait_progress(
    done: Callable[[], bool],
    measure: Callable[[], float],
    *,
    stall: float,
    what: str,
    where: Callable[[], str] | None = None,
    poll: float = 0.5,
    cap_factor: float = 10.0,
) -> float:
    """Wait until ``done()``; fail only after ``stall`` seconds without ``measure()`` rising (or past
    ``cap_factor * stall`` in all). Returns the seconds waited; a failure says how far it got and how fast."""
    began = time.monotonic()
    best = measure()
    first = best
    last_progress = began
    while True:
        if done():
            return time.monotonic() - began
        now = time.monotonic()
        if now - last_progress > stall or now - began > cap_factor * stall:
            elapsed = now - began
            rate = (best - first) / elapsed if elapsed > 0 else 0.0
            why = (
                f"no progress for {now - last_progress:.0f}s"
                if now - last_progress > stall
                else f"past the cap of {cap_factor * stall:.0f}s"
            )
            raise AssertionError(
                f"timed out waiting for {what}: {why} after {elapsed:.0f}s; progress {first:g} -> {best:g} "
                f"({rate:.1f}/s)" + (f"; {where()}" if where else "")
            )
        time.sleep(poll)
        value = measure()
        if value > best:
            best, last_progress = value, time.monotonic()


# ---------------------------------------------------------------------------------- shared helpers

KEY = "fault-test-pseudonym-key"


def worker_env(
    bootstrap: str,
    topic: str,
    group: str,
    db_url: str,
    home: Path,
    metrics_port: int = 0,
    *,
    dead_letter: str | None = None,
    alerts: str | None = None,
    key: str = KEY,
    **extra: str,
) -> dict[str, str]:
    """The worker's settings: it reads ``topic`` and writes its dead letters and alerts to ``dead_letter``
    and ``alerts`` (default: ``<topic>.dead-letter`` and ``<topic>.alerts``); ``extra`` adds settings."""
    return {
        "CLETS_WATCH_KAFKA_BOOTSTRAP": bootstrap,
        "CLETS_WATCH_TOPIC_QUERIES": topic,
        "CLETS_WATCH_TOPIC_DEAD_LETTER": dead_letter or f"{topic}.dead-letter",
        "CLETS_WATCH_TOPIC_ALERTS": alerts or f"{topic}.alerts",
        "CLETS_WATCH_CONSUMER_GROUP": group,
        "CLETS_WATCH_DB_URL": db_url,
        "CLETS_WATCH_METRICS_PORT": str(metrics_port),
        "CLETS_WATCH_PSEUDONYM_KEY": key,
        "CLETS_WATCH_HOME": str(home),
        "CLETS_WATCH_CHECKPOINT_INTERVAL_SECONDS": "1",
        **extra,
    }


def sqlite_worker(
    bootstrap: str,
    kafka_topic: Callable[..., str],
    queries: str,
    group: str,
    tmp_path: Path,
    metrics_port: int,
    key: str,
    **extra: str,
) -> WorkerProcess:
    """A worker, not started yet, on ``queries`` with dead-letter and alerts topics of its own (made by the
    ``kafka_topic`` fixture) and, under ``tmp_path``, its SQLite database ``clets-watch.db``, home and log."""
    db_url = f"sqlite:///{tmp_path / 'clets-watch.db'}"
    own = {"dead_letter": kafka_topic("dl"), "alerts": kafka_topic("alerts")}
    env = worker_env(
        bootstrap, queries, group, db_url, tmp_path / "home", metrics_port, key=key, **own, **extra
    )
    return WorkerProcess(env=env, log_path=tmp_path / "worker.log")


def read_topic(
    bootstrap: str, topic: str, timeout_ms: int = 10_000, limit: int | None = None
) -> list[tuple[int, int, bytes]]:
    """Every record of ``topic`` (or the first ``limit`` read) as (partition, offset, value), in offset
    order per partition; it stops when nothing came for ``timeout_ms``."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=timeout_ms,
        group_id=None,
        enable_auto_commit=False,
    )
    try:
        records = [(m.partition, m.offset, m.value) for m in itertools.islice(consumer, limit)]
    finally:
        consumer.close()
    return sorted(records)


def offline_expected(topic: str, records: list[tuple[int, int, bytes]]) -> dict[str, Any]:
    """What the pure core alone makes of the same records, partition by partition."""
    from clets_watch.settings import Settings
    from processors.batch import PartitionedPipelines, Record
    from processors.build import PipelineOverrides, build_pipeline

    built = build_pipeline(
        Settings(), PipelineOverrides(pseudonym_key=KEY.encode())
    )  # as the worker builds it
    pipelines = PartitionedPipelines(built.new)
    out = pipelines.process(Record(value, topic, p, o) for p, o, value in records)
    return {
        "verdicts": len(out.processed),
        "alert_ids": {(a.alert_id, a.incident_id) for a in out.alerts},  # with the incident each belongs to
        "aggregates": {(a.ori, a.window_kind, a.window_start, a.revision, a.total) for a in out.aggregates},
        "dead_letters": len(out.dead_letters),
    }


def offline(items: Sequence[Any], key: str) -> tuple[dict[str, str], set[str]]:
    """The same labelled events through the pure core alone (one partition, 60 s windows, 120 s lateness,
    pseudonyms keyed by ``key``): verdict per event id, and the alert ids."""
    from processors.agencies import AgencyRegistry
    from processors.batch import PartitionedPipelines, Record
    from processors.pipeline import Pipeline, PipelineConfig
    from processors.policy import Classifier, load_policy
    from processors.pseudonymize import Pseudonymizer

    registry = AgencyRegistry.load()
    classifier = Classifier(load_policy(), registry)
    pipelines = PartitionedPipelines(
        lambda: Pipeline(
            classify=classifier.classify,
            registry=registry,
            pseudonymizer=Pseudonymizer(key.encode()),
            config=PipelineConfig(window_seconds=60, allowed_lateness_seconds=120),
        )
    )
    out = pipelines.process(
        Record(json.dumps(item.event).encode(), "t", 0, n) for n, item in enumerate(items)
    )
    return {p.event_id: p.verdict for p in out.processed}, {a.alert_id for a in out.alerts}


def stored(db_url: str) -> dict[str, Any]:
    """The same figures as ``offline_expected``, read from the database the worker wrote."""
    from sqlalchemy import select

    from sinks.db import count_rows
    from sinks.models import WindowAggregate
    from tests.sinks.stores import Stores

    sink = Stores.open(db_url)
    try:
        with sink.engine.connect() as conn:
            rows = conn.execute(
                select(
                    WindowAggregate.ori,
                    WindowAggregate.window_kind,
                    WindowAggregate.window_start,
                    WindowAggregate.revision,
                    WindowAggregate.total,
                )
            ).all()
        counts = count_rows(sink.engine)
        return {
            "verdicts": counts["query_verdicts"],
            "alert_ids": {(a.alert_id, a.incident_id) for a in sink.alerts.list_alerts(limit=1_000_000)},
            "aggregates": {(r[0], r[1], _iso(r[2]), r[3], r[4]) for r in rows},
            "dead_letters": counts["dead_letters"],
        }
    finally:
        sink.close()


def _iso(value: Any) -> str:
    import datetime as dt

    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return str(value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return str(value)
