"""clets-watch live: the real worker (``clets-watch worker``, Faust, full pipeline, batched database
writes, metrics) as a process, on a topic the bench filled beforehand.

Progress is read from the worker's own ``clets_watch_events_processed_total`` counter on its /metrics
endpoint (incremented after each batch's database transaction), polled once a second while it runs (every 50 ms only before the first processed event and in the
last tenth: polling every 50 ms throughout cost the worker ~23% of its time); the rate runs from
the first poll that sees processed events to the poll that sees all of them, so interpreter start-up,
connecting and the consumer-group join are excluded. At the end the group's committed offsets are
checked (lag 0) and the verdict rows counted.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from clets_watch.bench.meter import Meter

PROCESSED: Final = re.compile(rb"^clets_watch_events_processed_total\s+([0-9.e+]+)\s*$", re.MULTILINE)
BENCH_KEY: Final = "clets-watch-bench-pseudonym-key"
FAST_POLL: Final = 0.05


class WorkerFailed(RuntimeError):
    pass


@dataclass
class BenchWorker:
    """One ``clets-watch worker`` process with its own group, database, metrics port and home."""

    bootstrap: str
    topic: str
    home: Path
    db_url: str
    metrics_port: int
    group: str = field(default_factory=lambda: f"bench-live-{uuid.uuid4().hex[:8]}")
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.home / "worker.log"

    def env(self) -> dict[str, str]:
        return {
            "CLETS_WATCH_KAFKA_BOOTSTRAP": self.bootstrap,
            "CLETS_WATCH_TOPIC_QUERIES": self.topic,
            "CLETS_WATCH_TOPIC_DEAD_LETTER": f"{self.topic}.dead-letter",
            "CLETS_WATCH_TOPIC_ALERTS": f"{self.topic}.alerts",
            "CLETS_WATCH_CONSUMER_GROUP": self.group,
            "CLETS_WATCH_DB_URL": self.db_url,
            "CLETS_WATCH_METRICS_PORT": str(self.metrics_port),
            "CLETS_WATCH_PSEUDONYM_KEY": BENCH_KEY,
            "CLETS_WATCH_HOME": str(self.home),
        }

    def start(self) -> BenchWorker:
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "clets_watch.cli", "worker"],
                env={**os.environ, **self.env()},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self

    def processed(self) -> int | None:
        """The worker's processed-events counter, or None while its /metrics is not up."""
        if self.proc is not None and self.proc.poll() is not None:
            raise WorkerFailed(f"the worker exited with {self.proc.returncode}:\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as resp:
                body = resp.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None
        match = PROCESSED.search(body)
        return int(float(match.group(1))) if match else 0

    def wait_processed(
        self, total: int, *, timeout: float, meter: Meter | None = None, poll: float = 1.0
    ) -> None:
        """Poll /metrics until ``total`` events are processed: every ``poll`` seconds while the worker
        runs (each scrape costs the worker time), every 50 ms before its first processed event and in
        the last tenth of the run, so both ends of the measured span are observed closely."""
        deadline = time.monotonic() + timeout
        while True:
            n = self.processed()
            if meter is not None and n is not None:
                meter.observe_total(n)
            if n is not None and n >= total:
                return
            if time.monotonic() > deadline:
                raise WorkerFailed(
                    f"the worker processed {n} of {total} events within {timeout:.0f}s; log {self.log_path}"
                )
            time.sleep(FAST_POLL if not n or n >= total * 0.9 else poll)

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def verdict_rows(db_url: str) -> int:
    from sqlalchemy import func, select

    from sinks.db import database
    from sinks.models import QueryVerdict

    with database(db_url) as engine, engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(QueryVerdict)).scalar_one())


def run_live(
    *, bootstrap: str, topic: str, events: int, home: Path, db_url: str | None = None, timeout: float = 600.0
) -> dict[str, Any]:
    """Run the worker over ``events`` events already on ``topic``; the meter's figures and checks."""
    from clets_watch.kafka_admin import group_lag
    from clets_watch.stack import free_port

    db = db_url or f"sqlite:///{home / 'live.db'}"
    worker = BenchWorker(bootstrap=bootstrap, topic=topic, home=home, db_url=db, metrics_port=free_port())
    meter = Meter(events)
    launched = time.perf_counter()
    worker.start()
    try:
        worker.wait_processed(events, timeout=timeout, meter=meter)
        startup = (meter.first_at or launched) - launched
        lag_deadline = time.monotonic() + 30
        lag = group_lag(bootstrap, worker.group, topic)
        while lag and time.monotonic() < lag_deadline:
            time.sleep(0.5)
            lag = group_lag(bootstrap, worker.group, topic)
    finally:
        worker.stop()
    return {
        **meter.as_dict(),
        "startup_seconds": round(startup, 2),
        "final_lag": lag,
        "verdict_rows": verdict_rows(db),
        "database": db.split(":", 1)[0],
    }
