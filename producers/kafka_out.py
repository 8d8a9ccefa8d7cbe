"""Produce query events to Kafka: key = ORI, value = compact JSON (query event v1), ``acks=all``.

As fast as the broker takes them (batched, lingering a few milliseconds), or paced to a wall-clock rate
(``pace`` events per second) for a live demo. The topic is created when missing.

``security``: kafka-python's TLS/SASL keyword arguments (``security_protocol``, ``ssl_context``,
``sasl_mechanism``, ``sasl_plain_username``, ``sasl_plain_password``), as built from the settings by
``clets_watch.kafka_security.kafka_client_kwargs``; None means a PLAINTEXT connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

from producers.simulator import LabelledEvent

_encoder: Final = msgspec.json.Encoder()
_BOOTSTRAP_TIMEOUT_MS: Final = 5000


class BrokerUnavailable(RuntimeError):
    """No Kafka broker answers at the bootstrap address."""

    def __init__(self, bootstrap: str, detail: str = "") -> None:
        super().__init__(
            f"no Kafka broker at {bootstrap}: run `clets-watch stack up`" + (f" ({detail})" if detail else "")
        )
        self.bootstrap = bootstrap


class ProduceError(RuntimeError):
    """Kafka refused or lost messages."""


@dataclass(slots=True)
class ProduceResult:
    topic: str
    sent: int = 0  # acknowledged by the broker (acks=all)
    failed: int = 0
    seconds: float = 0.0
    topic_created: bool = False
    by_partition: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # the first few delivery errors

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def ensure_topic(
    bootstrap: str,
    topic: str,
    *,
    partitions: int = 1,
    replication_factor: int = 1,
    security: Mapping[str, Any] | None = None,
) -> bool:
    """Create ``topic`` when missing; return whether it was created."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="clets-watch-produce-admin",
            bootstrap_timeout_ms=_BOOTSTRAP_TIMEOUT_MS,
            request_timeout_ms=15000,
            **dict(security or {}),
        )
    except KafkaError as exc:  # kafka-python 3: KafkaTimeoutError "Unable to bootstrap from ..."
        raise BrokerUnavailable(bootstrap) from exc
    try:
        if topic in set(admin.list_topics()):
            return False
        try:
            admin.create_topics(
                [NewTopic(name=topic, num_partitions=partitions, replication_factor=replication_factor)],
                timeout_ms=15000,
            )
        except TopicAlreadyExistsError:
            return False
        _wait_for_topic(admin, topic)
        return True
    finally:
        admin.close()


def _wait_for_topic(admin: KafkaAdminClient, topic: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if topic in set(admin.list_topics()):
            return
        time.sleep(0.1)
    raise ProduceError(f"topic {topic} was created but its metadata did not appear within {timeout:g}s")


def _event_of(item: LabelledEvent | Mapping[str, Any]) -> Mapping[str, Any]:
    return item.event if isinstance(item, LabelledEvent) else item


def produce(
    items: Iterable[LabelledEvent | Mapping[str, Any]],
    *,
    bootstrap: str,
    topic: str,
    partitions: int = 1,
    pace: float | None = None,
    create_topic: bool = True,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 10_000,
    linger_ms: int = 10,
    security: Mapping[str, Any] | None = None,
) -> ProduceResult:
    """Send every event (a ``LabelledEvent``'s event, or a v1 event dict) to ``topic``; never its truth.

    ``pace``: wall-clock events per second (None = as fast as possible). ``progress`` is called with the
    number of events handed to the producer every ``progress_every`` events. Raises ``BrokerUnavailable``
    when nothing answers at ``bootstrap`` and ``ProduceError`` when messages were not acknowledged.
    """
    if pace is not None and pace <= 0:
        raise ValueError(f"pace must be a positive number of events per second, got {pace}")
    result = ProduceResult(topic=topic)
    if create_topic:
        result.topic_created = ensure_topic(bootstrap, topic, partitions=partitions, security=security)
    try:
        producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            client_id="clets-watch-produce",
            acks="all",
            linger_ms=linger_ms,
            batch_size=256 * 1024,
            compression_type=None,
            bootstrap_timeout_ms=_BOOTSTRAP_TIMEOUT_MS,
            max_block_ms=30_000,
            **dict(security or {}),
        )
    except KafkaError as exc:
        raise BrokerUnavailable(bootstrap) from exc

    def delivered(metadata: Any) -> None:
        result.sent += 1
        result.by_partition[metadata.partition] = result.by_partition.get(metadata.partition, 0) + 1

    def failed(exc: BaseException) -> None:
        result.failed += 1
        if len(result.errors) < 5:
            result.errors.append(f"{type(exc).__name__}: {exc}")

    started = time.monotonic()
    handed = 0
    try:
        for item in items:
            event = _event_of(item)
            if pace is not None:
                ahead = started + handed / pace - time.monotonic()
                if ahead > 0.002:
                    time.sleep(ahead)
            future = producer.send(topic, key=str(event["ori"]).encode(), value=_encoder.encode(event))
            future.add_callback(delivered)
            future.add_errback(failed)
            handed += 1
            if progress is not None and handed % progress_every == 0:
                progress(handed)
        producer.flush(timeout=60)
    except KafkaTimeoutError as exc:
        raise ProduceError(f"Kafka at {bootstrap} did not take the events in time: {exc}") from exc
    finally:
        producer.close(timeout=10)
        result.seconds = time.monotonic() - started
    if progress is not None and handed % progress_every:
        progress(handed)
    if result.failed:
        raise ProduceError(
            f"{result.failed} of {handed} events were not acknowledged by {bootstrap}: "
            + "; ".join(result.errors)
        )
    return result
