"""Suspension the pipeline enforces, for real: a supervisor's decision (``clets-watch access``'s path, the
console's ``change_access``) is published on the compacted topic, the running worker reads it and raises ``query_while_suspended`` for the agency's direct
queries; a restore silences it and resets the agency's recommendation. A replay of the same stream with the
decisions from the database gives the same alerts."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from clets_watch import cli
from producers.kafka_out import produce
from schemas import AccessDecision
from sinks.db import open_engine
from tests.integration.workers import KEY, WorkerProcess, read_topic, worker_env
from tests.sinks.stores import Stores

pytestmark = pytest.mark.integration

ORI = "CA0190000"
T0 = dt.datetime(2019, 6, 12, 19, 0, tzinfo=dt.UTC)
SUSPEND_AT, RESTORE_AT = T0 + dt.timedelta(minutes=10), T0 + dt.timedelta(minutes=20)


def events(first_minute: int, last_minute: int) -> list[dict[str, Any]]:
    out = []
    for i in range(first_minute * 2, last_minute * 2):
        when = T0 + dt.timedelta(seconds=30 * i)
        out.append(
            {
                "schema_version": 1,
                "event_id": f"susp-{i}",
                "occurred_at": when.isoformat(),
                "ori": ORI,
                "operator_id": "deputy-9",
                "terminal_id": "T1",
                "message_type": "QH",
                "purpose_code": "C",
                "reason": "459 PC burglary",
                "case_number": "24-001",
                "subject": {"name": f"P{i % 7}"},
            }
        )
    return out


def test_suspend_then_restore_live_and_in_replay(
    kafka_bootstrap: str,
    kafka_topic: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    queries = kafka_topic("q")
    decisions_topic = f"decisions-{uuid.uuid4().hex[:8]}"
    db = f"sqlite:///{tmp_path / 'clets-watch.db'}"
    env = worker_env(
        kafka_bootstrap,
        queries,
        f"susp-{uuid.uuid4().hex[:6]}",
        db,
        tmp_path / "home",
        CLETS_WATCH_TOPIC_ACCESS_DECISIONS=decisions_topic,
    )
    for k, v in env.items():
        monkeypatch.setenv(k, v)

    def access(action: str, when: dt.datetime, reason: str) -> None:
        # what `clets-watch access` does once it has checked the supervisor, the ORI and the clock (it
        # refuses a time this far from now: tests/commands/test_access_cli.py): the console's path, then
        # the compacted topic; the decision times here are the stream's, in 2019
        from clets_watch.commands.access import _console
        from clets_watch.kafka_security import kafka_client_kwargs
        from clets_watch.settings import Settings
        from sinks.access_decisions import publish_decision

        settings = Settings()
        published: list[AccessDecision] = []
        engine = open_engine(db)
        try:
            _console(engine, settings, published.append).change_access(
                ORI, action, "Supervisor Ruiz", reason, at=when
            )
        finally:
            engine.dispose()
        publish_decision(kafka_bootstrap, decisions_topic, published[0], kafka_client_kwargs(settings))

    worker = WorkerProcess(env=env, log_path=tmp_path / "worker.log")
    worker.start()
    try:
        produce(events(0, 10), bootstrap=kafka_bootstrap, topic=queries, create_topic=False)
        worker.wait_consumed(kafka_bootstrap, env["CLETS_WATCH_CONSUMER_GROUP"], queries, timeout=120)
        access("suspend", SUSPEND_AT, "personal look-ups")  # the worker hears it while running
        produce(events(10, 20), bootstrap=kafka_bootstrap, topic=queries, create_topic=False)
        worker.wait_consumed(kafka_bootstrap, env["CLETS_WATCH_CONSUMER_GROUP"], queries, timeout=120)
        access("restore", RESTORE_AT, "investigation closed")
        produce(events(20, 40), bootstrap=kafka_bootstrap, topic=queries, create_topic=False)
        worker.wait_consumed(kafka_bootstrap, env["CLETS_WATCH_CONSUMER_GROUP"], queries, timeout=120)
    finally:
        worker.stop()
    assert "access decision" in worker.log()

    sink = Stores.open(db, create=False)
    try:
        live = {a.alert_id: a for a in sink.alerts.list_alerts(rule="query_while_suspended", limit=10_000)}
        history = [(r.state, r.actor) for r in sink.recommendations.history(ORI)]
    finally:
        sink.close()
    # every query in [suspend, restore) and none after the restore (silence)
    times = sorted(a.window_start for a in live.values())
    assert len(live) == 20, times
    assert all(SUSPEND_AT <= t < RESTORE_AT for t in times)
    assert all(a.severity == "critical" and a.incident_id for a in live.values())
    assert ("normal", "Supervisor Ruiz") in history  # the restore reset the recommendation book

    # replay: the same stream, the decisions from the database, the same alerts
    archive = tmp_path / "q.jsonl.gz"
    with gzip.open(archive, "wb") as fh:
        for _p, _o, value in read_topic(kafka_bootstrap, queries):
            fh.write(value + b"\n")
    monkeypatch.setenv("CLETS_WATCH_PSEUDONYM_KEY", KEY)
    capsys.readouterr()
    assert cli.main(["replay", "-i", str(archive), "--json", "--access-decisions", db]) == 0
    replayed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    hits = {a["alert_id"]: a for a in replayed if a["rule"] == "query_while_suspended"}
    assert set(hits) == set(live)
    assert {a["incident_id"] for a in hits.values()} == {a.incident_id for a in live.values()}
