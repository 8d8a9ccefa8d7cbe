"""The ceiling: bare consumer loops (aiokafka, kafka-python, confluent-kafka) that read a topic and decode
each value as JSON, and do nothing else. The fastest is the most any Python Kafka pipeline here can do.

Run one client per process: ``python -m clets_watch.bench.raw_consumers --client NAME --bootstrap B
--topic T --events N`` prints one JSON line (see ``meter.Meter.as_dict``).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any, Final

import msgspec

from clets_watch.bench.meter import Meter
from clets_watch.bench.subproc import emit

CLIENTS: Final = ("aiokafka", "kafka-python", "confluent-kafka")
MAX_RECORDS: Final = 500
FETCH_BYTES: Final = 8 * 1024 * 1024
_decode: Final = msgspec.json.Decoder().decode


class ConsumeTimeout(RuntimeError):
    pass


def _check_deadline(meter: Meter, deadline: float, client: str) -> None:
    if time.monotonic() > deadline:
        raise ConsumeTimeout(f"{client}: consumed {meter.count} of {meter.target} events before the timeout")


async def _aiokafka(bootstrap: str, topic: str, group: str, meter: Meter, deadline: float) -> None:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_bytes=FETCH_BYTES * 4,
        max_partition_fetch_bytes=FETCH_BYTES,
    )
    await consumer.start()
    try:
        while not meter.done:
            _check_deadline(meter, deadline, "aiokafka")
            batches = await consumer.getmany(timeout_ms=500, max_records=MAX_RECORDS)
            for messages in batches.values():
                for message in messages:
                    _decode(message.value)
                meter.add(len(messages))
    finally:
        await consumer.stop()


def consume_aiokafka(bootstrap: str, topic: str, group: str, meter: Meter, deadline: float) -> None:
    asyncio.run(_aiokafka(bootstrap, topic, group, meter, deadline))


def consume_kafka_python(bootstrap: str, topic: str, group: str, meter: Meter, deadline: float) -> None:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=MAX_RECORDS,
        fetch_max_bytes=FETCH_BYTES * 4,
        max_partition_fetch_bytes=FETCH_BYTES,
    )
    try:
        while not meter.done:
            _check_deadline(meter, deadline, "kafka-python")
            for messages in consumer.poll(timeout_ms=500).values():
                for message in messages:
                    _decode(message.value)
                meter.add(len(messages))
    finally:
        consumer.close()


def consume_confluent(bootstrap: str, topic: str, group: str, meter: Meter, deadline: float) -> None:
    from confluent_kafka import Consumer, KafkaException

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    try:
        while not meter.done:
            _check_deadline(meter, deadline, "confluent-kafka")
            messages = consumer.consume(num_messages=MAX_RECORDS, timeout=0.5)
            n = 0
            for message in messages:
                if message.error() is not None:
                    if message.error().fatal():
                        raise KafkaException(message.error())
                    continue  # e.g. partition EOF
                _decode(message.value())
                n += 1
            meter.add(n)
    finally:
        consumer.close()


RUNNERS: Final[dict[str, Callable[[str, str, str, Meter, float], None]]] = {
    "aiokafka": consume_aiokafka,
    "kafka-python": consume_kafka_python,
    "confluent-kafka": consume_confluent,
}


def consume(
    client: str, *, bootstrap: str, topic: str, events: int, timeout: float = 300.0
) -> dict[str, Any]:
    """Read ``events`` messages of ``topic`` with ``client`` in this process; the meter's figures."""
    if client not in RUNNERS:
        raise ValueError(f"unknown client {client!r}; expected one of {', '.join(CLIENTS)}")
    meter = Meter(events)
    RUNNERS[client](
        bootstrap, topic, f"bench-raw-{client}-{uuid.uuid4().hex[:8]}", meter, time.monotonic() + timeout
    )
    return {"client": client, **meter.as_dict()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--client", required=True, choices=CLIENTS)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--events", required=True, type=int)
    p.add_argument("--timeout", type=float, default=300.0)
    a = p.parse_args()
    emit(consume(a.client, bootstrap=a.bootstrap, topic=a.topic, events=a.events, timeout=a.timeout))


if __name__ == "__main__":
    main()
