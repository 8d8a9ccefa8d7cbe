"""Producing to a real Kafka broker (the session's test stack): key = ORI, value = the v1 event, no truth."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import pytest
from kafka import KafkaAdminClient, KafkaConsumer

from clets_watch.cli import main
from producers.kafka_out import BrokerUnavailable, ensure_topic, produce
from producers.simulator import generate
from schemas.events import decode_event

START = dt.datetime(2019, 3, 5, 5, 0, tzinfo=dt.timezone(dt.timedelta(hours=-8)))


def consume_all(
    bootstrap: str, topic: str, expected: int, timeout: float = 60.0
) -> list[tuple[bytes, bytes, int]]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=2000,
    )
    out: list[tuple[bytes, bytes, int]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for message in consumer:
                out.append((message.key, message.value, message.partition))
                if len(out) >= expected:
                    break
    finally:
        consumer.close()
    return out


@pytest.mark.integration
def test_produce_to_real_broker(kafka_bootstrap: str, kafka_topic: Callable[..., str]) -> None:
    topic = kafka_topic("produce", partitions=3)
    items = list(
        generate(
            seed=3, start=START, duration=dt.timedelta(minutes=30), rate_per_second=1.0, scenarios=["raid"]
        )
    )
    result = produce(items, bootstrap=kafka_bootstrap, topic=topic, partitions=3)
    assert result.sent == len(items) and result.failed == 0
    assert result.topic_created is False  # the fixture made it
    assert sum(result.by_partition.values()) == len(items)
    messages = consume_all(kafka_bootstrap, topic, len(items))
    assert len(messages) == len(items)
    by_id = {x.event_id: x for x in items}
    partition_of_ori: dict[bytes, int] = {}
    for key, value, partition in messages:
        event = decode_event(value)
        item = by_id[event.event_id]
        assert key == item.event["ori"].encode()
        assert b'"verdict"' not in value and b'"intent"' not in value
        # same key, same partition: per-agency order is kept
        assert partition_of_ori.setdefault(key, partition) == partition


@pytest.mark.integration
def test_missing_topic_is_created_and_pacing_holds(kafka_bootstrap: str) -> None:
    topic = f"produce-created-{time.time_ns()}"
    items = list(
        generate(
            seed=5, start=START, duration=dt.timedelta(minutes=30), rate_per_second=0.2, jitter_seconds=0.0
        )
    )[:40]
    assert len(items) == 40
    try:
        t0 = time.monotonic()
        result = produce(items, bootstrap=kafka_bootstrap, topic=topic, partitions=2, pace=100.0)
        elapsed = time.monotonic() - t0
        assert result.topic_created and result.sent == 40
        assert elapsed >= 0.39  # 40 events at 100/s take at least 0.39 s of wall time
        assert ensure_topic(kafka_bootstrap, topic, partitions=2) is False  # now it exists
        assert len(consume_all(kafka_bootstrap, topic, 40)) == 40
    finally:
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        try:
            admin.delete_topics([topic])
        finally:
            admin.close()


@pytest.mark.integration
def test_cli_produce_to_kafka(  # type: ignore[no-untyped-def]
    kafka_bootstrap: str,
    kafka_topic: Callable[..., str],
    tmp_path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    topic = kafka_topic("cli")
    truth = tmp_path / "sent.truth.jsonl"
    code = main(
        [
            "produce",
            "--to",
            "kafka",
            "--bootstrap",
            kafka_bootstrap,
            "--topic",
            topic,
            "--seed",
            "2",
            "--start",
            "2019-03-05T05:00-08:00",
            "--minutes",
            "40",
            "--rate",
            "0.5",
            "--scenario",
            "raid",
            "--truth-file",
            str(truth),
            "--json",
            "--quiet",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["sent"] == summary["truth"]["events"] > 160
    assert summary["truth"]["by_scenario"]["raid"] == 160
    assert len(truth.read_text().splitlines()) == summary["sent"]
    assert len(consume_all(kafka_bootstrap, topic, summary["sent"])) == summary["sent"]


def test_unreachable_broker_is_a_clear_error() -> None:
    with pytest.raises(
        BrokerUnavailable, match=r"no Kafka broker at 127\.0\.0\.1:1: run `clets-watch stack up`"
    ):
        produce([], bootstrap="127.0.0.1:1", topic="nowhere")
