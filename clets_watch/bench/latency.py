"""Latency: event produced -> alert row stored, for prohibited_query alerts, at a fixed produce rate.

The worker starts on an empty topic and is warmed up (a few hundred events, waited for) before the
clock starts. Then events are produced at ``rate`` per second for ``seconds`` seconds; each event's
produce time is ``time.time()`` just before ``send`` (also set as the Kafka record timestamp). The
alert's time is the ``alerts.first_seen_at`` the sink writes inside the batch transaction (taken just
before the rows are written, so the commit itself — a few ms — is not included). The prohibited_query
rule keys each alert by event id, which joins the two.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any, Final

import msgspec

from clets_watch.bench.live import BenchWorker
from clets_watch.bench.workload import events

WARMUP_EVENTS: Final = 500
_encode: Final = msgspec.json.Encoder().encode


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def produce_paced(
    bootstrap: str, topic: str, items: list[Any], rate: float
) -> tuple[dict[str, float], float]:
    """Send ``items`` at ``rate`` per second; (event id -> produce time, achieved rate)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, client_id="clets-watch-bench"
    )
    sent_at: dict[str, float] = {}
    started = time.monotonic()
    try:
        for i, item in enumerate(items):
            ahead = started + i / rate - time.monotonic()
            if ahead > 0.001:
                time.sleep(ahead)
            event = item.event
            now = time.time()
            sent_at[event["event_id"]] = now
            producer.send(
                topic, key=event["ori"].encode(), value=_encode(event), timestamp_ms=int(now * 1000)
            )
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)
    elapsed = time.monotonic() - started
    return sent_at, len(items) / elapsed if elapsed > 0 else 0.0


def alert_times(db_url: str) -> dict[str, float]:
    """prohibited_query alerts: event id (the alert key) -> first_seen_at (Unix seconds)."""
    from sqlalchemy import select

    from sinks.db import database
    from sinks.models import AlertRecord

    with database(db_url) as engine, engine.connect() as conn:
        rows = conn.execute(
            select(AlertRecord.key, AlertRecord.first_seen_at).where(AlertRecord.rule == "prohibited_query")
        ).all()
    out = {}
    for key, seen in rows:
        if seen.tzinfo is None:
            seen = seen.replace(tzinfo=dt.UTC)
        out[str(key)] = seen.timestamp()
    return out


def run_latency(
    *,
    bootstrap: str,
    topic: str,
    seed: int,
    rate: float,
    seconds: float,
    home: Path,
    db_url: str | None = None,
) -> dict[str, Any]:
    from clets_watch.stack import free_port
    from producers.kafka_out import ensure_topic

    ensure_topic(bootstrap, topic)
    count = max(1, int(rate * seconds))
    items = list(events(seed, WARMUP_EVENTS + count))
    warmup, measured = items[:WARMUP_EVENTS], items[WARMUP_EVENTS:]
    db = db_url or f"sqlite:///{home / 'latency.db'}"
    worker = BenchWorker(bootstrap=bootstrap, topic=topic, home=home, db_url=db, metrics_port=free_port())
    worker.start()
    try:
        produce_paced(bootstrap, topic, warmup, rate=10_000)
        worker.wait_processed(len(warmup), timeout=180)
        sent_at, achieved = produce_paced(bootstrap, topic, measured, rate)
        worker.wait_processed(len(items), timeout=max(120.0, seconds * 4))
    finally:
        worker.stop()
    seen = alert_times(db)
    latencies = sorted(seen[eid] - sent for eid, sent in sent_at.items() if eid in seen)
    prohibited = sum(1 for item in measured if item.truth.get("verdict") == "prohibited")
    return {
        "rate_target": rate,
        "rate_achieved": round(achieved, 1),
        "seconds": seconds,
        "events": len(measured),
        "prohibited_events_truth": prohibited,
        "alerts": len(latencies),
        "p50_seconds": round(_percentile(latencies, 0.50), 4),
        "p99_seconds": round(_percentile(latencies, 0.99), 4),
        "max_seconds": round(latencies[-1], 4) if latencies else 0.0,
        "min_seconds": round(latencies[0], 4) if latencies else 0.0,
    }
