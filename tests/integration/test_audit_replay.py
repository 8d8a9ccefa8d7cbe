"""A generated audit year through Kafka, replayed by timestamp range, gives the same alerts (ids and content)
as the same year replayed from the archive — with traffic before and after the year in the topic, which the
seek by timestamp (offsets_for_times) skips without reading it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from clets_watch.commands import replay
from clets_watch.settings import get_settings
from producers.archive import write_archive
from producers.audit_year import PACIFIC, AuditYear, produce_event_time
from producers.simulator import generate
from sinks.audit import AuditStore
from tests.helpers import run_ok

pytestmark = pytest.mark.integration


def cli(*argv: str) -> str:
    return run_ok(replay, "replay", *argv)


def replay_2018_from_kafka(bootstrap: str, topic: str, db: str, run_id: str, *extra: str) -> Any:
    """``replay --from-kafka`` of the year 2018 (Pacific) by timestamp range, recorded as ``run_id``; its
    JSON summary."""
    year = ["--since", "2018-01-01", "--until", "2019-01-01"]
    source = ["--from-kafka", "--topic", topic, "--bootstrap", bootstrap, *year]
    record = ["--record", "--run-id", run_id, "--db", db]
    return json.loads(cli(*source, *record, "--json", "--no-progress", *extra))


def test_kafka_range_replay_equals_the_archive_replay(
    kafka_bootstrap: str, kafka_topic: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLETS_WATCH_PSEUDONYM_KEY", "audit-kafka-test-key")
    get_settings.cache_clear()
    year = dataclasses.replace(
        AuditYear(),
        rate_per_second=0.0003,
        raid_lookups=100,
        raid_targets=25,
        ccw_checks=30,
        snooping_lookups=25,
    )
    archive = tmp_path / "audit-2018.jsonl.gz"
    written = write_archive(archive, year.events()).events

    topic = kafka_topic("audit-year", partitions=3)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="audit-replay-test")
    try:  # records are dated 2017-2019: keep them (time-based retention would delete them)
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": "-1"})])
    finally:
        admin.close()
    before = generate(
        seed=7,
        start=dt.datetime(2017, 12, 29, tzinfo=PACIFIC),
        duration=dt.timedelta(days=3),
        rate_per_second=0.01,
    )
    after = generate(
        seed=8,
        start=dt.datetime(2019, 1, 1, tzinfo=PACIFIC),
        duration=dt.timedelta(days=3),
        rate_per_second=0.01,
    )
    n_before = produce_event_time(before, bootstrap=kafka_bootstrap, topic=topic)
    n_year = produce_event_time(year.events(), bootstrap=kafka_bootstrap, topic=topic)
    n_after = produce_event_time(after, bootstrap=kafka_bootstrap, topic=topic)
    assert n_year == written and n_before > 100 and n_after > 100

    db = f"sqlite:///{tmp_path / 'audit.db'}"
    cli("--input", str(archive), "--record", "--run-id", "from-archive", "--db", db, "--no-progress")
    summary = replay_2018_from_kafka(kafka_bootstrap, topic, db, "from-kafka")
    assert summary["counts"]["events"] == written
    assert summary["since"] == "2018-01-01T08:00:00Z" and summary["until"] == "2019-01-01T08:00:00Z"
    # the seek skipped the padding before the year: no partition starts at offset 0
    ranges = summary["input"].split("offsets [")[1].rstrip("]").split(", ")
    assert all(int(r.split(":")[1].split("-")[0]) > 0 for r in ranges), summary["input"]

    with AuditStore(db) as store:
        a = store.alerts("from-archive")
        k = store.alerts("from-kafka")
        diff = store.diff("from-archive", "from-kafka")
        counts_a = store.verdict_counts("from-archive")
        counts_k = store.verdict_counts("from-kafka")
    assert len(a) > 100
    assert [x["alert_id"] for x in a] == [x["alert_id"] for x in k]
    assert diff.identical, diff.to_json()
    assert counts_a == counts_k
    assert {x["evidence"]["offsets"][0].split("/")[0] for x in k if x["evidence"]["offsets"]} == {topic}

    # the same range over two processes (split by agency): the same run
    summary2 = replay_2018_from_kafka(kafka_bootstrap, topic, db, "from-kafka-2", "--workers", "2")
    assert summary2["counts"] == summary["counts"]
    with AuditStore(db) as store:
        assert store.diff("from-kafka", "from-kafka-2").identical
        assert store.verdict_counts("from-kafka-2") == counts_k
        assert store.alert_lines("from-kafka-2") == store.alert_lines("from-kafka")
    get_settings.cache_clear()
