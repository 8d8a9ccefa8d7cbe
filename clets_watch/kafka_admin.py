"""Kafka administration the CLI needs: check the broker, create topics, measure a group's lag.

Every client connects with the Kafka security settings (TLS, SASL): those passed as ``security``, or by
default those in the environment (``CLETS_WATCH_KAFKA_SECURITY_PROTOCOL`` and friends, docs/security.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from clets_watch.kafka_security import KafkaSecurityError, bootstrap_failures, kafka_client_kwargs


class BrokerUnavailable(RuntimeError):
    pass


def security_kwargs(security: Mapping[str, Any] | None) -> dict[str, Any]:
    """kafka-python security keyword arguments: ``security`` itself, or those of the environment's settings.

    Raises ``BrokerUnavailable`` naming the setting when the environment's security settings are unusable.
    """
    if security is not None:
        return dict(security)
    try:
        return kafka_client_kwargs()
    except KafkaSecurityError as exc:
        raise BrokerUnavailable(f"cannot connect to Kafka: {exc}") from None


def admin(
    bootstrap: str,
    *,
    timeout_ms: int = 10_000,
    bootstrap_timeout_ms: int = 30_000,
    security: Mapping[str, Any] | None = None,
) -> KafkaAdminClient:
    kwargs = security_kwargs(security)
    with bootstrap_failures() as failures:
        try:
            return KafkaAdminClient(
                bootstrap_servers=bootstrap,
                client_id="clets-watch-admin",
                request_timeout_ms=timeout_ms,
                bootstrap_timeout_ms=bootstrap_timeout_ms,
                **kwargs,
            )
        except KafkaError:  # kafka-python 3 raises a timeout when it cannot bootstrap
            protocol = kwargs.get("security_protocol", "PLAINTEXT")
            reason = failures.reason()
            if protocol == "PLAINTEXT":
                raise BrokerUnavailable(
                    f"no Kafka broker at {bootstrap}: run `clets-watch stack up` (or set CLETS_WATCH_KAFKA_BOOTSTRAP)"
                ) from None
            because = f" ({reason})" if reason else ""
            raise BrokerUnavailable(
                f"cannot connect to Kafka at {bootstrap} over {protocol}{because}: check the broker's listener, "
                "CLETS_WATCH_KAFKA_SSL_CAFILE and the SASL credentials"
            ) from None


def ensure_topics(
    bootstrap: str, topics: Iterable[str], *, partitions: int = 1, security: Mapping[str, Any] | None = None
) -> list[str]:
    """Create the topics that do not exist yet; return the ones created."""
    client = admin(bootstrap, security=security)
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


def end_offsets(bootstrap: str, topic: str, *, security: Mapping[str, Any] | None = None) -> dict[int, int]:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, client_id="clets-watch-offsets", **security_kwargs(security)
    )
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def group_lag(bootstrap: str, group: str, topic: str, *, security: Mapping[str, Any] | None = None) -> int:
    """Messages of ``topic`` not yet committed by ``group`` (all partitions)."""
    security = security_kwargs(security)
    ends = end_offsets(bootstrap, topic, security=security)
    client = admin(bootstrap, security=security)
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
