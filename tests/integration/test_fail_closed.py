"""Fail closed on the real services (issue 13): a poison record never stalls the live worker, the
PostgreSQL sink bisects refused rows (and the worker sends them to the dead-letter topic like every other
dead letter), and the worker and ``replay`` give the same alerts, aggregates and dead letters for the same
events."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest
from kafka import KafkaProducer
from sqlalchemy import select, text

from producers.simulator import generate
from schemas import Aggregate, DeadLetter, Evidence, ProcessedEvent
from sinks.db import count_rows
from sinks.models import DeadLetterRecord
from sinks.writer import Checkpoint, SinkBatch
from tests.integration.workers import WorkerProcess, read_topic, stored, wait_progress, worker_env
from tests.processors.factories import make_alert, pe
from tests.sinks.stores import Stores

pytestmark = pytest.mark.integration

START = dt.datetime.fromisoformat("2019-06-12T05:00:00-07:00")


def processed(event_id: str, **fields: Any) -> ProcessedEvent:
    base = pe(
        event_id, when=START.astimezone(dt.UTC), rules=("POL-1.official-business",), source=f"t/0/{event_id}"
    )
    return msgspec.structs.replace(base, purpose_code="C", **fields)


def test_postgresql_refuses_rows_the_sink_bisects_writes_the_rest_and_dead_letters_them(
    postgres_url: str,
) -> None:
    sink = Stores.open(postgres_url)
    try:
        good = [processed(f"ok-{i}") for i in range(50)]
        nul = processed("nul-1", message_type="DQ\x00")  # PostgreSQL: text cannot contain NUL
        too_long = processed("long-1", message_type="Q" * 40)  # message_type is VARCHAR(32)
        alert = make_alert(evidence=Evidence(count=1, event_ids=("ok-1",)))
        agg = Aggregate(
            ori="CA0190000",
            window_kind="tumbling-60s",
            window_start="2019-06-12T12:00:00Z",
            window_end="2019-06-12T12:01:00Z",
            total=50,
            by_verdict={"allowed": 50},
            by_purpose={},
            by_data_source={},
        )
        batch = SinkBatch(
            processed=[*good[:20], nul, *good[20:40], too_long, *good[40:]],
            aggregates=[agg],
            alerts=[alert],
            dead_letters=[
                DeadLetter(reason="malformed_json", detail="bad\x00", payload=b"{\x00", source="t/0/9\x00")
            ],
            checkpoints=[Checkpoint("g", "t", 0, 77, b"state")],
        )
        began = time.monotonic()
        written = sink.writer.write_batch_resilient(batch)
        took = time.monotonic() - began
        refused = {d.event_id: d.detail for d in written.rejected}
        assert set(refused) == {"nul-1", "long-1"}
        assert "NUL" in refused["nul-1"] and "too long" in refused["long-1"]
        counts = count_rows(sink.engine)
        assert counts["query_verdicts"] == 50 and counts["window_aggregates"] == 1 and counts["alerts"] == 1
        assert counts["dead_letters"] == 3
        assert sink.writer.load_checkpoint("g", "t", 0) is not None
        with sink.engine.connect() as conn:
            reasons = Counter(conn.scalars(select(DeadLetterRecord.reason)))
        assert reasons == {"sink_rejected": 2, "malformed_json": 1}
        print(f"\n[fail-closed:pg-bisect] records=53 refused=2 writes={written.attempts} seconds={took:.2f}")
    finally:
        sink.close()


def event_line(item: Any) -> bytes:
    return json.dumps(item.event).encode()


def test_a_poison_record_in_a_live_stream_is_dead_lettered_within_10s_and_nothing_is_lost(
    kafka_bootstrap: str, kafka_topic: Any, postgres_url: str, tmp_path: Path
) -> None:
    """Two records refused at decode, one that the decoder accepts and PostgreSQL refuses (a CHECK
    constraint this test adds: the decoder refuses what the columns cannot hold, so nothing else in an
    event makes the database refuse it): all three on the dead-letter topic and in the database."""
    topic = kafka_topic("poison")
    items = list(generate(seed=1313, start=START, duration=dt.timedelta(minutes=20), rate_per_second=2.0))
    good = [event_line(i) for i in items]
    template = dict(items[0].event)
    poison = [
        json.dumps(template | {"event_id": "poison\u0000id"}).encode(),  # refused at decode
        json.dumps(
            template | {"event_id": "poison-mt", "message_type": "DQ\u0000"}
        ).encode(),  # refused at decode
        json.dumps(
            template | {"event_id": "poison-long", "message_type": "Q" * 40}
        ).encode(),  # refused at decode: message_type is VARCHAR(32)
        # refused by PostgreSQL (at the time of the events sent with it: not late)
        json.dumps(dict(items[len(items) // 2].event) | {"event_id": "poison-db"}).encode(),
    ]
    setup = Stores.open(postgres_url)
    try:
        with setup.engine.begin() as conn:
            conn.execute(
                text(
                    "ALTER TABLE query_verdicts ADD CONSTRAINT refuses_poison CHECK (event_id <> 'poison-db')"
                )
            )
    finally:
        setup.close()
    group = f"poison-{uuid.uuid4().hex[:6]}"
    env = worker_env(kafka_bootstrap, topic, group, postgres_url, tmp_path / "home")
    worker = WorkerProcess(env=env, log_path=tmp_path / "worker.log").start()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    try:
        half = len(good) // 2
        for raw in good[:half]:
            producer.send(topic, value=raw)
        producer.flush()
        worker.wait_consumed(kafka_bootstrap, group, topic, timeout=120)
        sent_at = time.monotonic()
        for raw in [*poison, *good[half:]]:
            producer.send(topic, value=raw)
        producer.flush()

        def dead_lettered() -> dict[str, str]:
            sink = Stores.open(postgres_url)
            try:
                with sink.engine.connect() as conn:
                    return {
                        str(r.event_id or r.source): r.reason
                        for r in conn.execute(
                            select(
                                DeadLetterRecord.event_id, DeadLetterRecord.source, DeadLetterRecord.reason
                            )
                        )
                    }
            finally:
                sink.close()

        def all_in() -> bool:
            reasons = sorted(dead_lettered().values())
            expected = ["control_character", "control_character", "invalid_value", "sink_rejected"]
            return reasons == expected and stored(postgres_url)["verdicts"] >= len(good)

        waited = wait_progress(
            all_in,
            lambda: stored(postgres_url)["verdicts"],
            stall=30,
            what="the poison records dead-lettered and every other record written",
        )
        seconds = time.monotonic() - sent_at
        worker.wait_consumed(kafka_bootstrap, group, topic, timeout=60)
    finally:
        producer.close()
        worker.stop()
    got = stored(postgres_url)
    lost = len(good) - got["verdicts"]
    print(
        f"\n[fail-closed:poison] good={len(good)} poison={len(poison)} written={got['verdicts']} lost={lost} "
        f"dead_lettered_within_s={seconds:.1f} (wait {waited:.1f})"
    )
    assert lost == 0
    assert "sink_rejected" in worker.log() or "database refused" in worker.log()
    on_topic = [json.loads(value) for _p, _o, value in read_topic(kafka_bootstrap, f"{topic}.dead-letter")]
    assert Counter(m["reason"] for m in on_topic) == {
        "control_character": 2,
        "invalid_value": 1,
        "sink_rejected": 1,
    }
    refused = next(m for m in on_topic if m["reason"] == "sink_rejected")
    assert refused["event_id"] == "poison-db" and "refuses_poison" in refused["detail"]
    assert json.loads(refused["payload"])["event_id"] == "poison-db"  # the record as the database got it
    assert seconds <= 10.0, f"the poison records took {seconds:.1f}s to be dead-lettered"


def test_worker_and_replay_give_the_same_alerts_aggregates_and_dead_letters(
    kafka_bootstrap: str, kafka_topic: Any, tmp_path: Path
) -> None:
    topic = kafka_topic("parity")
    items = list(
        generate(
            seed=4242,
            start=START,
            duration=dt.timedelta(minutes=40),
            rate_per_second=3.0,
            scenarios=["raid", "snooping"],
        )
    )
    lines = [event_line(i) for i in items]
    first = dict(items[10].event)
    lines.insert(200, b"not json at all")
    lines.insert(400, json.dumps(first | {"ori": "bad"}).encode())
    lines.insert(600, json.dumps(first | {"reason": "a conflicting copy: ero removal detainer"}).encode())
    lines.insert(800, json.dumps(first | {"message_type": "ZZQ", "event_id": "unknown-key-1"}).encode())
    lines.append(
        json.dumps(first | {"event_id": "very-late", "occurred_at": "2019-06-12T05:00:01-07:00"}).encode()
    )
    archive = tmp_path / "parity.jsonl"
    archive.write_bytes(b"\n".join(lines) + b"\n")

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    for raw in lines:
        producer.send(topic, value=raw)
    producer.flush()
    producer.close()
    db_url = f"sqlite:///{tmp_path / 'parity.db'}"
    group = f"parity-{uuid.uuid4().hex[:6]}"
    env = worker_env(kafka_bootstrap, topic, group, db_url, tmp_path / "home")

    def verdicts() -> int:
        return int(stored(db_url)["verdicts"])

    worker = WorkerProcess(env=env, log_path=tmp_path / "worker.log").start()
    try:
        worker.wait_stored(kafka_bootstrap, group, topic, rows=verdicts, expected=len(items), timeout=120)
        time.sleep(2)  # the last batch's aggregates and alerts are written with it; let it land
    finally:
        worker.stop()
    live = stored(db_url)
    sink = Stores.open(db_url)
    try:
        with sink.engine.connect() as conn:
            live_dead = Counter(conn.scalars(select(DeadLetterRecord.reason)))
    finally:
        sink.close()

    # replay, as an auditor runs it: same settings (environment), default everything else
    dead_file = tmp_path / "replay-dead.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "clets_watch.cli",
            "replay",
            "--input",
            str(archive),
            "--json",
            "--dead-letters",
            str(dead_file),
        ],
        env={**os.environ, **env},
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    replay_alerts = {
        (a["alert_id"], a["incident_id"])
        for a in (json.loads(x) for x in proc.stdout.decode().splitlines() if x.strip())
    }
    replay_dead = Counter(json.loads(x)["reason"] for x in dead_file.read_text().splitlines())

    # The live worker closes a window only when later events move its watermark; replay closes them all at
    # the end of its input. So: the same builder, in process, over the same lines, without the final close,
    # must give exactly what the worker wrote; the command's extra alerts all come from that final close.
    from clets_watch.settings import Settings
    from processors.build import build_pipeline
    from processors.replay import iter_archive

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        pipeline = build_pipeline(Settings()).new()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    steps = [pipeline.process_raw(raw, source=src) for raw, src in iter_archive(archive)]
    open_aggs = {
        (a.ori, a.window_kind, a.window_start, a.revision, a.total) for s in steps for a in s.aggregates
    }
    # (alert id, incident id): the same alerts, in the same incidents
    open_alerts = {(a.alert_id, a.incident_id) for s in steps for a in s.alerts}
    closing = {(a.alert_id, a.incident_id) for a in pipeline.close().alerts}
    replay_aggs = open_aggs
    print(
        f"\n[fail-closed:parity] lines={len(lines)} alerts live={len(live['alert_ids'])} "
        f"replay={len(replay_alerts)} aggregates live={len(live['aggregates'])} replay={len(replay_aggs)} "
        f"dead letters live={dict(live_dead)} replay={dict(replay_dead)}"
    )
    assert live_dead["conflicting_duplicate"] == 1 and live_dead["late"] >= 1
    assert live["alert_ids"] == open_alerts
    assert replay_alerts == open_alerts | closing
    assert live["aggregates"] == replay_aggs
    assert live_dead == replay_dead
