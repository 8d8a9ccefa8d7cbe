"""Bad input at the real worker: more than 10,000 malformed messages mixed with a good stream and
duplicates. Every bad message lands in the dead-letter topic with its reason, the good ones are
processed exactly as without the noise, the worker never dies and its memory stays bounded."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from producers.simulator import generate
from tests.integration.fuzz import NOT_AN_EVENT, NOT_AN_EVENT_REASONS, noisy_stream
from tests.integration.workers import WorkerProcess, offline_expected, read_topic, stored, worker_env

pytestmark = pytest.mark.integration

BAD = 10_500
DUPLICATES = 500


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def test_ten_thousand_malformed_messages_mixed_with_a_good_stream(
    kafka_bootstrap: str, kafka_topic: Any, tmp_path: Path
) -> None:
    rng = random.Random(20191015)
    items = list(
        generate(
            seed=5150,
            start=dt.datetime.fromisoformat("2019-06-12T05:00:00-07:00"),
            duration=dt.timedelta(minutes=45),
            rate_per_second=3.0,
            scenarios=["raid"],
        )
    )
    good = [json.dumps(i.event).encode() for i in items]
    stream = list(noisy_stream(rng, good, bad=BAD, duplicates=DUPLICATES))
    assert sum(1 for _raw, reason in stream if reason) == BAD

    topic = kafka_topic("fuzz")
    producer = KafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5, max_request_size=2**20
    )
    futures = [producer.send(topic, value=raw) for raw, _reason in stream]
    producer.flush()
    offsets = [f.get(timeout=30).offset for f in futures]
    producer.close()
    expected_reason = {off: reason for off, (_raw, reason) in zip(offsets, stream) if reason}

    db_url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    group = f"fuzz-{uuid.uuid4().hex[:6]}"
    # two bad messages for every good one: under the default dead-letter limit (80% of the last 2,000)
    env = worker_env(kafka_bootstrap, topic, group, db_url, tmp_path / "home")
    worker = WorkerProcess(env=env, log_path=tmp_path / "worker.log").start()
    assert worker.proc is not None
    samples: list[int] = []

    def progress() -> bool:
        samples.append(rss_kib(worker.proc.pid))  # type: ignore[union-attr]
        return bool(stored(db_url)["verdicts"] >= len(items))

    try:
        began = time.monotonic()
        worker.wait_consumed(kafka_bootstrap, group, topic, timeout=240, also=progress)
        took = time.monotonic() - began
        assert worker.alive(), "the worker must survive the noise"
    finally:
        worker.stop()

    # Every bad message is in the dead-letter topic, with its reason and where it came from.
    dead = {}
    for _p, _o, value in read_topic(kafka_bootstrap, f"{topic}.dead-letter"):
        msg = json.loads(value)
        dead[int(msg["source"].rsplit("/", 1)[1])] = msg["reason"]
    assert set(dead) == set(expected_reason), "each malformed message is dead-lettered once, nothing else is"
    wrong = {
        off: (expected_reason[off], dead[off])
        for off in dead
        if not (
            dead[off] == expected_reason[off]
            or (expected_reason[off] == NOT_AN_EVENT and dead[off] in NOT_AN_EVENT_REASONS)
        )
    }
    assert not wrong, f"dead-letter reasons differ (offset: expected, got): {dict(list(wrong.items())[:10])}"

    # The good events are processed exactly as without the noise (duplicates once).
    clean = offline_expected(topic, [(0, n, raw) for n, raw in enumerate(good)])
    got = stored(db_url)
    assert got["verdicts"] == clean["verdicts"] == len(items)
    assert got["alert_ids"] == clean["alert_ids"]
    assert got["aggregates"] == clean["aggregates"]
    assert got["dead_letters"] == BAD

    # Memory stays bounded: no growth over the second half of the run beyond noise.
    half = samples[len(samples) // 2 :]
    growth_mib = (max(half) - half[0]) / 1024 if half else 0.0
    print(
        f"\n[fuzz] messages={len(stream)} bad={BAD} duplicates={DUPLICATES} good={len(items)} lost=0 "
        f"dead_lettered={len(dead)} reasons={dict(Counter(dead.values()))} seconds={took:.1f} "
        f"rss_max_mib={max(samples) / 1024:.0f} rss_growth_second_half_mib={growth_mib:.1f}"
    )
    assert max(samples) < 1024 * 1024, "worker RSS above 1 GiB"
    assert growth_mib < 64


def test_a_stream_of_garbage_stops_the_worker_with_the_reason(
    kafka_bootstrap: str, kafka_topic: Any, tmp_path: Path
) -> None:
    topic = kafka_topic("garbage")
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    for n in range(3000):
        producer.send(topic, value=b'{"schema_version": 2, "n": %d}' % n)
    producer.flush()
    producer.close()
    env = worker_env(
        kafka_bootstrap,
        topic,
        f"garbage-{uuid.uuid4().hex[:6]}",
        f"sqlite:///{tmp_path / 'g.db'}",
        tmp_path / "home",
        CLETS_WATCH_DEAD_LETTER_MAX_RATIO="0.5",
        CLETS_WATCH_DEAD_LETTER_WINDOW="1000",
    )
    worker = WorkerProcess(env=env, log_path=tmp_path / "worker.log").start()
    assert worker.proc is not None
    try:
        code = worker.proc.wait(timeout=120)
    finally:
        worker.stop()
    assert code == 3, worker.log()[-3000:]
    assert re.search(r"\d+ of the last \d+ messages were bad input", worker.log())
    # what it saw before stopping is in the dead-letter topic, with the reason
    dead = [json.loads(v)["reason"] for _p, _o, v in read_topic(kafka_bootstrap, f"{topic}.dead-letter")]
    assert len(dead) >= 1000 and set(dead) == {"unknown_schema_version"}
