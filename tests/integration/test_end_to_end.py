"""The walking skeleton, for real: simulator -> Kafka -> Faust worker -> database + metrics -> Prometheus.

Also: streaming equals offline — the same events through the pure core alone give the same
verdicts and the same alert ids as the live worker.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from producers.kafka_out import produce
from producers.simulator import generate
from sinks.db import count_rows, verdict_counts
from tests.integration.workers import WorkerProcess, offline, read_topic, worker_env
from tests.sinks.stores import Stores

pytestmark = pytest.mark.integration

KEY = "integration-test-pseudonym-key"
START = dt.datetime.fromisoformat("2019-06-12T05:00:00-07:00")
MALFORMED = [
    (b'{"schema_version": 1, "event_id": "bad-1"', "malformed_json"),
    (b'{"schema_version": 9, "event_id": "bad-2"}', "unknown_schema_version"),
    (b"\xff\xfe not utf-8", "invalid_utf8"),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'clets-watch.db'}"
    return str(request.getfixturevalue("postgres_url"))


def test_raid_stream_through_kafka_and_the_worker(
    db_url: str, kafka_bootstrap: str, kafka_topic: Any, prometheus: Any, free_port: Any, tmp_path: Path
) -> None:
    queries, dead_letter, alerts_topic = kafka_topic("q"), kafka_topic("dl"), kafka_topic("alerts")
    items = list(
        generate(
            seed=4242, start=START, duration=dt.timedelta(minutes=50), rate_per_second=2.0, scenarios=["raid"]
        )
    )
    assert len(items) > 1000
    sent = produce(items, bootstrap=kafka_bootstrap, topic=queries, create_topic=False)
    assert sent.sent == len(items)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for raw, _reason in MALFORMED:
        producer.send(queries, value=raw)
    producer.flush()
    producer.close()

    group = f"it-{uuid.uuid4().hex[:8]}"
    metrics_port = free_port()
    env = worker_env(
        kafka_bootstrap,
        queries,
        group,
        db_url,
        tmp_path / "home",
        metrics_port,
        dead_letter=dead_letter,
        alerts=alerts_topic,
        key=KEY,
    )
    worker = WorkerProcess(env=env, log_path=tmp_path / "worker.log").start()
    sink = Stores.open(db_url)
    try:
        prometheus.set_targets([f"127.0.0.1:{metrics_port}"])
        waited = worker.wait_consumed(
            kafka_bootstrap,
            group,
            queries,
            also=lambda: count_rows(sink.engine)["query_verdicts"] >= len(items),
        )
        print(f"worker consumed {len(items)} events + {len(MALFORMED)} malformed in {waited:.1f}s")

        # The database holds one verdict per event, and the same verdicts and alert ids as the pure core.
        expected_verdicts, expected_alert_ids = offline(items, KEY)
        assert count_rows(sink.engine)["query_verdicts"] == len(items)
        assert verdict_counts(sink.engine) == _count(expected_verdicts.values())
        stored = {a.alert_id: a for a in sink.alerts.list_alerts(limit=100_000)}
        assert set(stored) == expected_alert_ids
        raid_oris = {i.event["ori"] for i in items if i.truth.get("scenario") == "raid"}
        prohibited = [a for a in stored.values() if a.rule == "prohibited_query"]
        assert prohibited, "the raid must raise prohibited-query alerts"
        assert {a.ori for a in prohibited} <= raid_oris | {
            i.event["ori"] for i in items if i.truth.get("verdict") == "prohibited"
        }
        assert count_rows(sink.engine)["dead_letters"] == len(MALFORMED)

        # Dead letters reached their topic, each with its reason.
        reasons = sorted(m["reason"] for m in read_json(kafka_bootstrap, dead_letter, len(MALFORMED)))
        assert reasons == sorted(r for _raw, r in MALFORMED)
        # Alerts reached the alerts topic.
        assert {m["alert_id"] for m in read_json(kafka_bootstrap, alerts_topic, len(stored))} == set(stored)

        # A real Prometheus scraped the worker's counters.
        total = prometheus.wait_for(f"sum(clets_watch_queries_total) == {len(items)}", timeout=30)
        assert float(total[0]["value"][1]) == len(items)
        by_verdict = prometheus.wait_for(
            'sum by (verdict) (clets_watch_queries_total{verdict="prohibited"}) > 0'
        )
        assert float(by_verdict[0]["value"][1]) == _count(expected_verdicts.values())["prohibited"]
        dead = prometheus.wait_for("sum(clets_watch_dead_letter_total)")
        assert float(dead[0]["value"][1]) == len(MALFORMED)
    finally:
        worker.stop()
        sink.close()


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return counts


def read_json(bootstrap: str, topic: str, expected: int) -> list[dict[str, Any]]:
    """The first ``expected`` JSON messages of ``topic``."""
    return [json.loads(value) for _p, _o, value in read_topic(bootstrap, topic, 15_000, limit=expected)]
