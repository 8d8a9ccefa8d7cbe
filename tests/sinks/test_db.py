"""The database sink on SQLite and on the real PostgreSQL: migrations, idempotent batches, alert ledger."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from schemas.outputs import Aggregate, Alert, DeadLetter, Evidence, ProcessedEvent
from sinks.alert_store import AlertNotFound, AlertStateError
from sinks.db import SinkError, count_rows, current_revision, head_revision, sqlite_path, verdict_counts
from sinks.models import TABLES, AlertLedgerEntry, Base
from sinks.writer import SinkBatch, dead_letter_id
from tests.processors.factories import dmv_alert
from tests.sinks.stores import Stores

UTC = dt.UTC
T0 = dt.datetime(2019, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2024, 5, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def sink(db_url: str, clock: Clock) -> Iterator[Stores]:
    s = Stores.open(db_url, clock=clock)
    yield s
    s.close()  # before the PostgreSQL fixture drops the database


def event(i: int, *, verdict: str = "allowed", ori: str = "CA0190000", **kw: object) -> ProcessedEvent:
    fields: dict[str, object] = {
        "event_id": f"ev-{i:06d}",
        "occurred_at": T0 + dt.timedelta(seconds=i),
        "ori": ori,
        "component": None,
        "department": None,
        "operator": "op-7f3a9c",
        "terminal_id": "T-01",
        "message_type": "DQ",
        "data_source": "dmv_license",
        "purpose_code": None,
        "has_reason": True,
        "has_case_number": False,
        "subject_key": "subj-41bd02",
        "verdict": verdict,
        "purpose": "criminal_justice",
        "rules": ("POL-1",),
        "policy_version": "1",
        "source": f"clets.queries/0/{i}",
    }
    fields.update(kw)
    return ProcessedEvent(**fields)  # type: ignore[arg-type]


def aggregate(*, revision: int = 0, total: int = 10, start: str = "2019-03-01T12:00:00Z") -> Aggregate:
    return Aggregate(
        ori="CA0190000",
        window_kind="tumbling-60s",
        window_start=start,
        window_end="2019-03-01T12:01:00Z",
        total=total,
        by_verdict={"allowed": total},
        by_purpose={"criminal_justice": total},
        by_data_source={"dmv_license": total},
        revision=revision,
        late=revision,
    )


def alert(alert_id: str = "al-1", **fields: Any) -> Alert:
    """An ICE-ERO burst of 41 DMV look-ups; ``fields`` sets the others."""
    return dmv_alert(
        alert_id,
        **{
            "summary": "41 DMV look-ups in one hour",
            "evidence": Evidence(count=41, event_ids=("ev-000001", "ev-000002"), counts={"dmv": 41.0}),
            "component": "ICE-ERO",
            **fields,
        },
    )


def full_batch(n: int = 50) -> SinkBatch:
    return SinkBatch(
        processed=[event(i, verdict="prohibited" if i % 5 == 0 else "allowed") for i in range(n)],
        aggregates=[aggregate(), aggregate(revision=1, total=11)],
        alerts=[
            alert("al-1"),
            alert("al-2", rule="ccw_checks", status="suppressed", suppressed_reason="cooldown"),
        ],
        dead_letters=[
            DeadLetter(
                reason="malformed_json",
                detail="expected ',' at byte 7",
                payload=b'{"a" 1}',
                source="clets.queries/0/99",
            )
        ],
    )


# ----------------------------------------------------------------------------------------- schema


def test_migrations_create_every_table_at_head(sink: Stores) -> None:
    assert current_revision(sink.engine) == head_revision()
    assert set(TABLES) <= set(inspect(sink.engine).get_table_names())


def test_migrations_match_the_models(sink: Stores) -> None:
    with sink.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diffs == []


def test_opening_twice_runs_migrations_once(db_url: str) -> None:
    first = Stores.open(db_url)
    first.writer.write_batch(SinkBatch(processed=[event(1)]))
    second = Stores.open(db_url)  # create=True again: upgrade is a no-op at head
    try:
        assert count_rows(second.engine)["query_verdicts"] == 1
    finally:
        first.close()
        second.close()


def test_create_false_does_not_build_the_schema(db_url: str) -> None:
    path = sqlite_path(db_url)
    if path is not None:
        with pytest.raises(SinkError, match="no database at"):
            Stores.open(db_url, create=False)
        assert not path.exists()
        path.parent.mkdir(parents=True)
        sqlite3.connect(path).close()  # an empty database file: not ours, but not missing either
    s = Stores.open(db_url, create=False)
    try:
        assert current_revision(s.engine) is None
    finally:
        s.close()


# ------------------------------------------------------------------------------------- idempotency


def test_writing_the_same_batch_twice_changes_nothing(sink: Stores) -> None:
    batch = full_batch()
    first = sink.writer.write_batch(batch)
    assert (first.verdicts_inserted, first.alerts_inserted, first.dead_letters_inserted) == (50, 2, 1)
    assert first.ledger_rows_inserted == 2
    counts = count_rows(sink.engine)
    alerts_before = sink.alerts.list_alerts()

    second = sink.writer.write_batch(batch)
    assert (second.verdicts_inserted, second.alerts_inserted, second.dead_letters_inserted) == (0, 0, 0)
    assert second.ledger_rows_inserted == 0
    assert second.alerts_updated == 2
    assert count_rows(sink.engine) == counts
    assert sink.alerts.list_alerts() == alerts_before  # first_seen_at kept, nothing else moved
    assert counts["query_verdicts"] == 50
    assert counts["window_aggregates"] == 2
    assert counts["alerts"] == 2
    assert counts["alert_ledger"] == 2
    assert counts["dead_letters"] == 1
    assert [e.action for e in sink.alerts.alert_ledger("al-1")] == ["fired"]
    assert [(e.action, e.note) for e in sink.alerts.alert_ledger("al-2")] == [("suppressed", "cooldown")]


def test_a_second_sink_on_the_same_database_adds_no_duplicates(sink: Stores, db_url: str) -> None:
    sink.writer.write_batch(full_batch())
    other = Stores.open(db_url, create=False)
    try:
        result = other.writer.write_batch(full_batch())
    finally:
        other.close()
    assert result.verdicts_inserted == 0
    assert count_rows(sink.engine)["alert_ledger"] == 2


def test_duplicates_inside_one_batch_are_written_once(sink: Stores) -> None:
    batch = SinkBatch(
        processed=[event(1), event(1)],
        aggregates=[aggregate(total=3), aggregate(total=4)],
        alerts=[alert("al-1"), alert("al-1", summary="again")],
        dead_letters=[DeadLetter(reason="late", detail="late by 300s", payload=b"x", source="s/0/1")] * 2,
    )
    result = sink.writer.write_batch(batch)
    assert result.verdicts_inserted == 1
    assert result.alerts_inserted == 1
    assert result.dead_letters_inserted == 1
    rows = count_rows(sink.engine)
    assert (rows["query_verdicts"], rows["window_aggregates"], rows["alerts"], rows["alert_ledger"]) == (
        1,
        1,
        1,
        1,
    )
    got = sink.alerts.get_alert("al-1")
    assert got is not None and got.summary == "again"  # the last one in the batch wins


def test_a_failing_batch_writes_nothing(sink: Stores) -> None:
    bad = DeadLetter(reason=None, detail="x", payload=b"y")  # type: ignore[arg-type]  # NOT NULL column
    batch = full_batch()
    batch.dead_letters.append(bad)  # written last: everything before it must roll back
    with pytest.raises(IntegrityError):
        sink.writer.write_batch(batch)
    assert set(count_rows(sink.engine).values()) == {0}


def test_aggregate_revisions_are_separate_rows_and_a_rewrite_converges(sink: Stores) -> None:
    sink.writer.write_batch(SinkBatch(aggregates=[aggregate(revision=0, total=10)]))
    sink.writer.write_batch(SinkBatch(aggregates=[aggregate(revision=1, total=12)]))
    sink.writer.write_batch(SinkBatch(aggregates=[aggregate(revision=1, total=12)]))
    with sink.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT revision, total, late FROM window_aggregates ORDER BY revision")
        ).all()
    assert [tuple(r) for r in rows] == [(0, 10, 0), (1, 12, 1)]


def test_dead_letter_id_is_a_digest_of_source_and_payload() -> None:
    a = DeadLetter(reason="malformed_json", detail="d", payload=b"{", source="t/0/1")
    assert dead_letter_id(a) == dead_letter_id(
        DeadLetter(reason="late", detail="other", payload=b"{", source="t/0/1")
    )
    assert dead_letter_id(a) != dead_letter_id(
        DeadLetter(reason="malformed_json", detail="d", payload=b"{", source="t/0/2")
    )
    assert len(dead_letter_id(a)) == 64


# ------------------------------------------------------------------------------------------- time


def test_times_are_stored_in_utc_and_read_back_aware(sink: Stores) -> None:
    pacific = dt.timezone(dt.timedelta(hours=-8))
    sink.writer.write_batch(
        SinkBatch(
            processed=[event(1, occurred_at=dt.datetime(2019, 3, 1, 4, 0, 1, tzinfo=pacific))],
            alerts=[alert(window_start="2019-03-01T04:00:00-08:00", window_end="2019-03-01T13:00:00+00:00")],
        )
    )
    got = sink.alerts.get_alert("al-1")
    assert got is not None
    assert got.window_start == dt.datetime(2019, 3, 1, 12, 0, tzinfo=UTC)
    assert got.window_start.utcoffset() == dt.timedelta(0)
    assert got.first_seen_at.tzinfo is not None
    with sink.engine.connect() as conn:
        # compare in SQL too: the stored value sorts and filters as UTC on both databases
        from sinks.models import QueryVerdict

        found = conn.scalar(
            select(QueryVerdict.event_id).where(
                QueryVerdict.occurred_at == dt.datetime(2019, 3, 1, 12, 0, 1, tzinfo=UTC)
            )
        )
    assert found == "ev-000001"


def test_naive_times_are_refused(sink: Stores) -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        sink.writer.write_batch(SinkBatch(alerts=[alert(window_start="2019-03-01T12:00:00")]))
    assert count_rows(sink.engine)["alerts"] == 0


# -------------------------------------------------------------------------------------------- PII


def test_no_pii_reaches_the_database(sink: Stores) -> None:
    payload = b'{"subject": {"name": "MARIA EXAMPLE-PEREZ"}, "reason": "my ex", "case_number": "24-99177"}'
    sink.writer.write_batch(
        SinkBatch(
            processed=[event(1)],
            dead_letters=[
                DeadLetter(reason="wrong_type", detail="Expected `str`", payload=payload, source="s/0/1")
            ],
        )
    )
    columns = {c["name"] for c in inspect(sink.engine).get_columns("query_verdicts")}
    assert not columns & {"reason", "case_number", "subject", "operator_id", "terminal_id"}
    assert {"operator", "subject_key", "has_reason", "has_case_number"} <= columns
    assert "payload" not in {c["name"] for c in inspect(sink.engine).get_columns("dead_letters")}
    with sink.engine.connect() as conn:
        dump = repr([conn.execute(text(f"SELECT * FROM {t}")).all() for t in TABLES])
    for secret in ("MARIA", "my ex", "24-99177"):
        assert secret not in dump


# -------------------------------------------------------------------------------------- alert life


def test_acknowledge_and_resolve_append_to_the_ledger(sink: Stores) -> None:
    sink.writer.write_batch(SinkBatch(alerts=[alert("al-1")]))
    ack = sink.alerts.acknowledge("al-1", "j.doe", "looking into ERO burst")
    assert ack.action == "acknowledged"
    assert sink.alerts.get_alert("al-1").status == "acknowledged"  # type: ignore[union-attr]
    sink.alerts.acknowledge("al-1", "k.roe", "second look")
    sink.alerts.resolve("al-1", "j.doe", "referred to DOJ")
    ledger = sink.alerts.alert_ledger("al-1")
    assert [(e.action, e.actor) for e in ledger] == [
        ("fired", "clets-watch"),
        ("acknowledged", "j.doe"),
        ("acknowledged", "k.roe"),
        ("resolved", "j.doe"),
    ]
    assert [e.at for e in ledger] == sorted(e.at for e in ledger)
    got = sink.alerts.get_alert("al-1")
    assert got is not None and got.status == "resolved" and got.raised_as == "fired"

    with pytest.raises(AlertStateError, match="already resolved"):
        sink.alerts.resolve("al-1", "j.doe", "again")
    with pytest.raises(AlertStateError, match="already resolved"):
        sink.alerts.acknowledge("al-1", "j.doe", "late ack")
    assert len(sink.alerts.alert_ledger("al-1")) == 4


def test_a_resolved_alert_stays_resolved_when_the_rule_re_emits_it(sink: Stores) -> None:
    sink.writer.write_batch(SinkBatch(alerts=[alert("al-1")]))
    sink.alerts.resolve("al-1", "j.doe", "done")
    sink.writer.write_batch(SinkBatch(alerts=[alert("al-1")]))
    assert sink.alerts.get_alert("al-1").status == "resolved"  # type: ignore[union-attr]
    assert [e.action for e in sink.alerts.alert_ledger("al-1")] == ["fired", "resolved"]


def test_a_suppressed_alert_that_later_fires_gets_one_fired_entry(sink: Stores) -> None:
    sink.writer.write_batch(
        SinkBatch(alerts=[alert("al-1", status="suppressed", suppressed_reason="quiet hours")])
    )
    assert sink.alerts.get_alert("al-1").status == "suppressed"  # type: ignore[union-attr]
    sink.writer.write_batch(SinkBatch(alerts=[alert("al-1")]))
    sink.writer.write_batch(SinkBatch(alerts=[alert("al-1")]))
    assert [e.action for e in sink.alerts.alert_ledger("al-1")] == ["suppressed", "fired"]
    assert sink.alerts.get_alert("al-1").status == "fired"  # type: ignore[union-attr]


def test_actions_on_a_missing_alert_or_without_a_name_are_refused(sink: Stores) -> None:
    with pytest.raises(AlertNotFound, match="no alert 'nope'"):
        sink.alerts.acknowledge("nope", "j.doe", "x")
    with pytest.raises(AlertNotFound):
        sink.alerts.resolve("nope", "j.doe", "x")
    sink.writer.write_batch(SinkBatch(alerts=[alert("al-1")]))
    with pytest.raises(SinkError, match="name of the person"):
        sink.alerts.acknowledge("al-1", "  ", "x")
    assert sink.alerts.get_alert("nope") is None
    assert sink.alerts.alert_ledger("nope") == []


def test_list_alerts_filters_and_orders(sink: Stores) -> None:
    sink.writer.write_batch(
        SinkBatch(
            alerts=[
                alert("a-old", window_start="2019-03-01T10:00:00Z"),
                alert("a-new", window_start="2019-03-01T14:00:00Z", severity="critical", ori="CA0370000"),
                alert("a-ccw", rule="ccw_checks", status="suppressed", suppressed_reason="dup"),
            ]
        )
    )
    sink.alerts.acknowledge("a-old", "j.doe", "seen")
    assert [a.alert_id for a in sink.alerts.list_alerts()] == ["a-new", "a-ccw", "a-old"]
    assert [a.alert_id for a in sink.alerts.list_alerts(rule="ccw_checks")] == ["a-ccw"]
    assert [a.alert_id for a in sink.alerts.list_alerts(ori="CA0370000")] == ["a-new"]
    assert [a.alert_id for a in sink.alerts.list_alerts(severity="critical")] == ["a-new"]
    assert [a.alert_id for a in sink.alerts.list_alerts(status="acknowledged")] == ["a-old"]
    assert [a.alert_id for a in sink.alerts.list_alerts(status="suppressed")] == ["a-ccw"]
    assert [a.alert_id for a in sink.alerts.list_alerts(status="fired")] == ["a-new"]
    assert len(sink.alerts.list_alerts(limit=2)) == 2
    with pytest.raises(SinkError, match="limit"):
        sink.alerts.list_alerts(limit=0)
    got = sink.alerts.get_alert("a-new")
    assert got is not None
    assert got.to_json()["evidence"] == {
        "count": 41,
        "event_ids": ["ev-000001", "ev-000002"],
        "counts": {"dmv": 41.0},
        "offsets": [],
        "policy_rules": [],
    }
    assert got.to_json()["window_start"] == "2019-03-01T14:00:00Z"


def test_verdict_counts(sink: Stores) -> None:
    sink.writer.write_batch(full_batch(50))
    assert verdict_counts(sink.engine) == {"allowed": 40, "prohibited": 10}


def test_ledger_rows_are_only_ever_added(sink: Stores) -> None:
    sink.writer.write_batch(SinkBatch(alerts=[alert("al-1")]))
    with sink.engine.connect() as conn:
        before = conn.execute(select(AlertLedgerEntry.id, AlertLedgerEntry.action, AlertLedgerEntry.at)).all()
    sink.alerts.acknowledge("al-1", "j.doe", "x")
    with sink.engine.connect() as conn:
        after = conn.execute(select(AlertLedgerEntry.id, AlertLedgerEntry.action, AlertLedgerEntry.at)).all()
    assert after[: len(before)] == before and len(after) == len(before) + 1


# ------------------------------------------------------------------- recommendations and disclosures


def test_recommendations_keep_a_history(sink: Stores) -> None:
    sink.writer.write_batch(SinkBatch(alerts=[alert("al-1")]))
    sink.recommendations.recommend(
        "CA0190000", "watch", reason="DMV burst", actor="clets-watch", alert_ids=["al-1"], component="ICE-ERO"
    )
    sink.recommendations.recommend(
        "CA0190000", "suspend", reason="repeat", actor="j.doe", alert_ids=["al-1"], component="ICE-ERO"
    )
    current = sink.recommendations.current()
    assert [(r.ori, r.state, r.alert_ids) for r in current] == [("CA0190000", "suspend", ("al-1",))]
    assert [r.state for r in sink.recommendations.history("CA0190000")] == ["watch", "suspend"]
    with pytest.raises(SinkError, match="unknown recommendation"):
        sink.recommendations.recommend("CA0190000", "ban", reason="x", actor="y")


def test_disclosure_filings_are_keyed_by_agency_and_year(sink: Stores) -> None:
    late = dt.datetime(2019, 6, 3, 17, 0, tzinfo=UTC)
    sink.disclosures.record("CA0300099", 2018, filed_at=None, investigations_opened=None)
    sink.disclosures.record(
        "CA0300099", 2018, filed_at=late, investigations_opened=0, outcomes="none reported"
    )
    rows = sink.disclosures.filings(year=2018)
    assert [(r.ori, r.filed_at, r.investigations_opened) for r in rows] == [("CA0300099", late, 0)]


# ------------------------------------------------------------------------------------ performance


def test_thousands_of_rows_per_batch_are_written_in_bulk(sink: Stores) -> None:
    n = 5000
    batch = SinkBatch(processed=[event(i) for i in range(n)])
    started = time.perf_counter()
    result = sink.writer.write_batch(batch)
    elapsed = time.perf_counter() - started
    assert result.verdicts_inserted == n
    assert count_rows(sink.engine)["query_verdicts"] == n
    assert elapsed < 15, f"{n} rows took {elapsed:.1f}s: the sink is not writing in bulk"


def test_checkpoints_are_written_with_the_batch_and_replaced(db_url: str) -> None:
    from sinks.writer import Checkpoint

    sink = Stores.open(db_url)
    assert sink.writer.load_checkpoint("g", "clets.queries", 0) is None
    sink.writer.write_batch(SinkBatch(checkpoints=[Checkpoint("g", "clets.queries", 0, 100, b"state-1")]))
    sink.writer.write_batch(
        SinkBatch(checkpoints=[Checkpoint("g", "clets.queries", 0, 2**40, b"\x00state-2\xff")])
    )
    got = sink.writer.load_checkpoint("g", "clets.queries", 0)
    assert got == Checkpoint("g", "clets.queries", 0, 2**40, b"\x00state-2\xff")
    assert sink.writer.load_checkpoint("g", "clets.queries", 1) is None
    assert sink.writer.load_checkpoint("other", "clets.queries", 0) is None
    sink.close()
