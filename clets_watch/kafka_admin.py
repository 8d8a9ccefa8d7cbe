"""Kafka administration the CLI needs: check the broker, create topics, measure a group's lag."""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError


class BrokerUnavailable(RuntimeError):
    pass


def admin(bootstrap: str, *, timeout_ms: int = 10_000) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(
            bootstrap_servers=bootstrap, client_id="clets-watch-admin", request_timeout_ms=timeout_ms
        )
    except KafkaError:  # kafka-python 3 raises a timeout when it cannot bootstrap
        raise BrokerUnavailable(
            f"no Kafka broker at {bootstrap}: run `clets-watch stack up` (or set CLETS_WATCH_KAFKA_BOOTSTRAP)"
        ) from None


def ensure_topics(bootstrap: str, topics: Iterable[str], *, partitions: int = 1) -> list[str]:
    """Create the topics that do not exist yet; return the ones created."""
    client = admin(bootstrap)
    try:
        existing = set(client.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            try:
                client.create_topics([NewTopic(t, partitions, 1) for t in missing])
            except TopicAlreadyExistsError:
                pass
        return missing
    finally:
        client.close()


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="clets-watch-offsets")
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """Messages of ``topic`` not yet committed by ``group`` (all partitions)."""
    ends = end_offsets(bootstrap, topic)
    client = admin(bootstrap)
    try:
        committed = client.list_group_offsets(group).get(group, {})
    except KafkaError:  # e.g. the group has not committed yet
        committed = {}
    finally:
        client.close()
    lag = 0
    for partition, end in ends.items():
        meta = committed.get(TopicPartition(topic, partition))
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
        lag += max(0, end - done)
    return lag
