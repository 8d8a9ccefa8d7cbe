"""The tamper-evident ledger on SQLite and on the real PostgreSQL: UPDATE, DELETE (and TRUNCATE)
refused by triggers from migration 0004, a hash chain that `verify` checks and that names the first
broken entry, an app role without UPDATE/DELETE privileges, and the migration journalling rows
written before it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from schemas.outputs import Alert, Evidence
from sinks.alert_store import AlertStateError
from sinks.db import SinkError, upgrade
from sinks.ledger import (
    GENESIS,
    LEDGER_TABLES,
    LedgerError,
    NewEntry,
    app_role_grants_sql,
    append_entry,
    entry_hash,
    unprotect_sql,
    verify,
)
from sinks.writer import SinkBatch
from tests.processors.factories import dmv_alert
from tests.sinks.stores import Stores

UTC = dt.UTC
T0 = dt.datetime(2019, 3, 1, 12, 0, tzinfo=UTC)


def alert(alert_id: str) -> Alert:
    return dmv_alert(alert_id, summary=f"summary {alert_id}", evidence=Evidence(count=3, event_ids=("e1",)))


def upgraded_from(tmp_path: Path, revision: str, *rows: str) -> Stores:
    """A SQLite database migrated to ``revision``, holding ``rows`` (INSERT statements written with that
    schema), then upgraded to the head: the stores over it (close them)."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, revision)
    engine = create_engine(url)
    with engine.begin() as conn:
        for row in rows:
            conn.execute(text(row))
    engine.dispose()
    upgrade(url)
    return Stores.open(url, create=False)


@pytest.fixture
def sink(db_url: str) -> Iterator[Stores]:
    s = Stores.open(db_url)
    s.writer.write_batch(SinkBatch(alerts=[alert("a1"), alert("a2")]))
    s.alerts.acknowledge("a1", "rita", "looking")
    s.recommendations.recommend("CA0190000", "suspend", reason="raid", actor="sam", alert_ids=["a1"])
    yield s
    s.close()


TAMPERING = [
    ("UPDATE alert_ledger SET note = 'nothing to see'", "alert_ledger"),
    ("DELETE FROM alert_ledger", "alert_ledger"),
    ("UPDATE agency_recommendation_history SET actor = 'someone'", "agency_recommendation_history"),
    ("DELETE FROM agency_recommendation_history", "agency_recommendation_history"),
    ("UPDATE ledger_entries SET actor = 'someone'", "ledger_entries"),
    ("DELETE FROM ledger_entries WHERE seq = 2", "ledger_entries"),
]


@pytest.mark.parametrize(("sql", "table"), TAMPERING)
def test_the_database_refuses_update_and_delete_on_the_ledger(sink: Stores, sql: str, table: str) -> None:
    before = _dump(sink.engine)
    with (
        pytest.raises(DBAPIError, match=f"on {table} is refused: the ledger is append-only"),
        sink.engine.begin() as conn,
    ):
        conn.execute(text(sql))
    assert _dump(sink.engine) == before
    assert verify(sink.engine).ok


@pytest.mark.parametrize(
    ("sql", "table"),
    [
        (
            (
                "INSERT OR REPLACE INTO alert_ledger (id, alert_id, action, actor, note, at) "
                "SELECT id, alert_id, action, 'mallory', note, at FROM alert_ledger WHERE action = 'acknowledged'"
            ),
            "alert_ledger",
        ),
        (
            (
                "INSERT OR REPLACE INTO alert_ledger (alert_id, action, actor, note, at, entry_key) "
                "SELECT alert_id, action, 'mallory', note, at, entry_key FROM alert_ledger WHERE entry_key = 'a1:fired'"
            ),
            "alert_ledger",
        ),
        (
            (
                "REPLACE INTO agency_recommendation_history SELECT id, ori, component, state, 'edited', alert_ids, "
                "actor, at FROM agency_recommendation_history"
            ),
            "agency_recommendation_history",
        ),
        (
            (
                "INSERT OR REPLACE INTO ledger_entries SELECT seq, entity_kind, entity_id, action, 'mallory', note, at, "
                "ref, prev_hash, entry_hash FROM ledger_entries WHERE seq = 3"
            ),
            "ledger_entries",
        ),
    ],
)
def test_sqlite_refuses_insert_or_replace_over_a_ledger_row(tmp_path: Path, sql: str, table: str) -> None:
    """SQLite's REPLACE deletes the clashing row without firing DELETE triggers: refused on its own."""
    s = Stores.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        s.writer.write_batch(SinkBatch(alerts=[alert("a1"), alert("a2")]))
        s.alerts.acknowledge("a1", "rita", "looking")
        s.recommendations.recommend("CA0190000", "suspend", reason="raid", actor="sam")
        before = _dump(s.engine)
        with pytest.raises(DBAPIError, match=f"REPLACE on {table} is refused"), s.engine.begin() as conn:
            conn.execute(text(sql))
        assert _dump(s.engine) == before and verify(s.engine).ok
        # a replayed batch still adds nothing
        s.writer.write_batch(SinkBatch(alerts=[alert("a1"), alert("a2")]))
        with pytest.raises(AlertStateError):
            s.alerts.resolve("a1", "rita", "done") and s.alerts.resolve("a1", "rita", "again")
        assert verify(s.engine).entries == 5
    finally:
        s.close()


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Stores]:
    """The PostgreSQL database with one alert written."""
    with Stores.open(postgres_url) as s:
        s.writer.write_batch(SinkBatch(alerts=[alert("a1")]))
        yield s


@pytest.mark.integration
def test_postgres_refuses_truncate_too(pg: Stores) -> None:
    for table in LEDGER_TABLES:
        with pytest.raises(DBAPIError, match="TRUNCATE on .* is refused"), pg.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {table} CASCADE"))
    assert verify(pg.engine).entries == 1


@pytest.mark.integration
def test_postgres_app_role_lacks_update_and_delete(pg: Stores, postgres_url: str) -> None:
    """Even with the triggers dropped, the role the worker and console run as cannot change the ledger."""
    role = f"clets_app_{secrets.token_hex(4)}"
    password = secrets.token_hex(16)
    try:
        with pg.engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
            for stmt in app_role_grants_sql(role):
                conn.exec_driver_sql(stmt)
            for stmt in unprotect_sql("postgresql"):  # the privileges alone must hold
                conn.exec_driver_sql(stmt)
        app_url = make_url(postgres_url).set(username=role, password=password)
        app = Stores.open(app_url.render_as_string(hide_password=False), create=False)
        try:
            app.writer.write_batch(SinkBatch(alerts=[alert("a2")]))  # the app role appends
            app.alerts.acknowledge("a2", "rita", "seen")
            for table in LEDGER_TABLES:
                for sql in (f"UPDATE {table} SET actor = 'x'", f"DELETE FROM {table}", f"TRUNCATE {table}"):
                    with pytest.raises(DBAPIError, match="permission denied"), app.engine.begin() as conn:
                        conn.execute(text(sql))
            assert verify(app.engine).ok
        finally:
            app.close()
    finally:
        with pg.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")


def _dump(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY 1"))] for t in LEDGER_TABLES
        }


def _tamper(sink: Stores, *sql: str) -> Engine:
    """Drop the triggers and run ``sql``: what an attacker with DDL rights could do. Returns the engine."""
    with sink.engine.begin() as conn:
        for stmt in unprotect_sql(sink.engine.dialect.name):
            conn.exec_driver_sql(stmt)
    with sink.engine.begin() as conn:
        for stmt in sql:
            conn.execute(text(stmt))
    return sink.engine


def test_every_ledger_write_is_chained(sink: Stores) -> None:
    result = verify(sink.engine)
    assert result.ok and result.entries == 4  # 2 fired, 1 acknowledged, 1 recommendation
    with sink.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT entity_kind, entity_id, action, actor, ref, prev_hash, entry_hash "
                "FROM ledger_entries ORDER BY seq"
            )
        ).all()
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("alert", "a1", "fired", "clets-watch"),
        ("alert", "a2", "fired", "clets-watch"),
        ("alert", "a1", "acknowledged", "rita"),
        ("agency", "CA0190000", "suspend", "sam"),
    ]
    assert rows[0].prev_hash == GENESIS
    assert all(rows[i].prev_hash == rows[i - 1].entry_hash for i in range(1, len(rows)))
    assert result.head == rows[-1].entry_hash
    # a replayed batch adds no entry (the alert ledger's entry keys are idempotent)
    sink.writer.write_batch(SinkBatch(alerts=[alert("a1"), alert("a2")]))
    assert verify(sink.engine).entries == 4


def test_verify_names_a_changed_entry(sink: Stores) -> None:
    result = verify(_tamper(sink, "UPDATE ledger_entries SET note = 'nothing happened' WHERE seq = 3"))
    assert not result.ok and result.broken_seq == 3
    assert "entry 3 (alert a1, acknowledged by rita): its content does not match its hash" in str(
        result.problem
    )


def test_verify_names_a_removed_entry(sink: Stores) -> None:
    result = verify(_tamper(sink, "DELETE FROM ledger_entries WHERE seq = 2"))
    assert not result.ok and result.broken_seq == 3 and "prev_hash does not match" in str(result.problem)


def test_verify_names_a_changed_history_row(sink: Stores) -> None:
    """The chain intact, but the alert ledger (what the console shows) edited behind it."""
    engine = _tamper(sink, "UPDATE alert_ledger SET actor = 'sam' WHERE action = 'acknowledged'")
    result = verify(engine)
    assert not result.ok and result.broken_seq == 3
    assert "differs from its ledger entry 3" in str(result.problem)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_entries WHERE seq = 4"))  # the last entry: no link breaks
        conn.execute(text("UPDATE alert_ledger SET actor = 'rita' WHERE action = 'acknowledged'"))
    result = verify(engine)
    assert (
        not result.ok
        and "agency_recommendation_history:1 (agency CA0190000, suspend by sam) has no ledger entry"
        in str(result.problem)
    )


def test_verify_catches_a_rewritten_chain_with_a_recorded_head(sink: Stores) -> None:
    """Someone who rewrites the whole chain consistently is caught by a head recorded before."""
    head = verify(sink.engine).head
    engine = _tamper(
        sink,
        "DELETE FROM ledger_entries WHERE seq = 4",
        "DELETE FROM agency_recommendation_history",
        "DELETE FROM agency_recommendations",
    )
    assert verify(engine).ok  # consistent on its own...
    assert not verify(engine, expect_head=head).ok  # ...but the recorded head is gone


def test_append_refuses_incomplete_entries(sink: Stores) -> None:
    with sink.engine.begin() as conn:
        for bad in (
            NewEntry("", "x", "note", "rita", None, T0),
            NewEntry("incident", "i-1", "note", " ", None, T0),
            NewEntry("incident", "i-1", "", "rita", None, T0),
            NewEntry("incident", "i-1", "x" * 33, "rita", None, T0),
        ):
            with pytest.raises(LedgerError):
                append_entry(conn, bad)
    # any other entity kind is chained the same way (incidents will be)
    with sink.engine.begin() as conn:
        digest = append_entry(conn, NewEntry("incident", "i-1", "opened", "rita", "raid", T0))
    assert verify(sink.engine).head == digest


def test_the_hash_covers_every_field() -> None:
    base = NewEntry("alert", "a1", "acknowledged", "rita", "note", T0, "alert_ledger:1")
    digests = {entry_hash(GENESIS, base)}
    for change in (
        {"entity_kind": "agency"},
        {"entity_id": "a2"},
        {"action": "resolved"},
        {"actor": "sam"},
        {"note": "note."},
        {"note": None},
        {"at": T0 + dt.timedelta(microseconds=1)},
        {"ref": None},
    ):
        digests.add(entry_hash(GENESIS, dataclasses.replace(base, **change)))
    digests.add(entry_hash("1" * 64, base))
    assert len(digests) == 10


def test_human_actions_need_a_note_and_a_name_not_the_pipelines(sink: Stores) -> None:
    with pytest.raises(SinkError, match="needs a note"):
        sink.alerts.acknowledge("a2", "rita", "  ")
    with pytest.raises(SinkError, match="pipeline's own name"):
        sink.alerts.resolve("a2", "Clets-Watch", "closing it")
    assert verify(sink.engine).entries == 4


def test_the_migration_journals_rows_written_before_it(tmp_path: Path) -> None:
    with upgraded_from(
        tmp_path,
        "0003",
        "INSERT INTO alerts VALUES ('a1','r',1,'high','CA0190000',NULL,'k','2019-03-01 12:00:00',"
        "'2019-03-01 13:00:00','s','{}','fired',NULL,'acknowledged','2019-03-01 13:00:01')",
        "INSERT INTO alert_ledger (alert_id, action, actor, note, at, entry_key) VALUES "
        "('a1','fired','clets-watch',NULL,'2019-03-01 13:00:01','a1:fired'),"
        "('a1','acknowledged','rita','old note','2019-03-01 13:05:00.250000',NULL)",
        "INSERT INTO agency_recommendation_history (ori, component, state, reason, alert_ids, "
        "actor, at) VALUES ('CA0190000',NULL,'watch','w','[]','clets-watch','2019-03-01 13:02:00')",
        "INSERT INTO agency_recommendations (ori, component, state, reason, alert_ids, actor, at) "
        "VALUES ('CA0190000',NULL,'watch','w','[]','clets-watch','2019-03-01 13:02:00')",
    ) as s:
        result = verify(s.engine)
        assert result.ok and result.entries == 3
        with s.engine.connect() as conn:
            order = conn.execute(text("SELECT action FROM ledger_entries ORDER BY seq")).scalars().all()
        assert order == ["fired", "watch", "acknowledged"]  # by time across both histories


def test_sqlite_database_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new" / "clets-watch.db"
    with Stores.open(f"sqlite:///{path}") as s:
        s.writer.write_batch(SinkBatch(alerts=[alert("a1")]))
        modes = {p.name: p.stat().st_mode & 0o777 for p in path.parent.iterdir()}
    assert modes["clets-watch.db"] == 0o600
    assert all(mode == 0o600 for mode in modes.values()), modes  # -wal and -shm too
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_verify_names_a_removed_history_row(sink: Stores) -> None:
    """Finding 2: an acknowledgement deleted from the alert ledger (the alert set back to fired) leaves its
    ledger entry pointing at nothing; verify names that entry."""
    engine = _tamper(
        sink,
        "DELETE FROM alert_ledger WHERE action = 'acknowledged'",
        "UPDATE alerts SET state = 'fired' WHERE alert_id = 'a1'",
    )
    result = verify(engine)
    assert not result.ok and result.broken_seq == 3
    assert (
        "entry 3 (alert a1, acknowledged by rita) journals alert_ledger:3, which is no longer there"
        in str(result.problem)
    )


STATE_TAMPERING = [
    (
        ["UPDATE alerts SET state = 'resolved' WHERE alert_id = 'a2'"],
        "alert a2 is 'resolved' but its ledger says 'fired'",
    ),
    (
        ["UPDATE alerts SET state = 'fired' WHERE alert_id = 'a1'"],
        "alert a1 is 'fired' but its ledger says 'acknowledged'",
    ),
    (
        ["DELETE FROM alert_ledger WHERE alert_id = 'a2'", "DELETE FROM alerts WHERE alert_id = 'a2'"],
        "journals alert_ledger:2, which is no longer there",
    ),
    (
        ["DELETE FROM agency_recommendations"],
        "agency CA0190000's recommendation is none but its history says 'suspend' by sam",
    ),
    (
        ["UPDATE agency_recommendations SET state = 'normal', actor = 'rita'"],
        "agency CA0190000's recommendation is 'normal' by rita but its history says 'suspend' by sam",
    ),
    (["DELETE FROM access_decisions"], "which is no longer there (the history row was removed)"),
    (
        ["UPDATE access_decisions SET effective_at = '1990-01-01 00:00:00'"],
        "differs from its ledger entry 5 (the history row was changed)",
    ),
    (["UPDATE access_decisions SET action = 'restore'"], "differs from its ledger entry 5"),
]


@pytest.mark.parametrize(("statements", "message"), STATE_TAMPERING)
def test_verify_compares_the_state_with_the_ledger(sink: Stores, statements: list[str], message: str) -> None:
    """Finding 3: plain UPDATE/DELETE on the state tables (no trigger in the way) is caught: an alert's state
    against its last ledgered action, each agency's recommendation against its history, and the access
    decisions, which are journalled in the chain."""
    from schemas import AccessDecision
    from sinks.access_decisions import record_decision

    decision = AccessDecision(
        decision_id="d" * 32,
        ori="CA0190000",
        action="suspend",
        effective_at="2019-03-01T12:30:00Z",
        by="sam",
        reason="raid",
    )
    assert record_decision(sink.engine, decision)
    assert not record_decision(
        sink.engine, decision
    )  # the same decision again: no second row, no second entry
    assert verify(sink.engine).ok and verify(sink.engine).entries == 5
    if sink.engine.dialect.name == "postgresql":
        statements = [s.replace("'1990-01-01 00:00:00'", "'1990-01-01 00:00:00+00'") for s in statements]
    engine = _tamper(sink, *statements)
    result = verify(engine)
    assert not result.ok and message in str(result.problem), result.problem


@pytest.mark.parametrize(
    ("values", "why"),
    [
        ("'a1','resolved','mallory','x','not-a-time'", "ValueError"),
        # N8: SQLite keeps a BLOB in a text column as bytes
        ("'a1','resolved',x'00ff','x','2019-03-01 16:00:00'", "TypeError: actor holds bytes, not text"),
        ("'a1','resolved','mallory',x'00ff','2019-03-01 16:00:00'", "TypeError: note holds bytes, not text"),
        ("x'00ff','resolved','mallory','x','2019-03-01 16:00:00'", "TypeError: entity_id holds bytes"),
    ],
    ids=["time", "blob-actor", "blob-note", "blob-entity-id"],
)
def test_verify_reports_an_unreadable_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], values: str, why: str
) -> None:
    """Finding 19 and N8: a row appended behind the ledger's back that cannot even be read (a time that is
    not a time, a BLOB in a text column) is reported as broken, with its seq, in text and JSON; never a
    traceback."""
    import json

    from clets_watch import cli

    url = f"sqlite:///{tmp_path / 'clets-watch.db'}"
    s = Stores.open(url)
    s.writer.write_batch(SinkBatch(alerts=[alert("a1")]))
    s.close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ledger_entries (entity_kind, entity_id, action, actor, note, at, ref, prev_hash, "
                f"entry_hash) VALUES ('alert',{values},NULL,'0','1')"
            )
        )
    engine.dispose()
    assert cli.main(["alerts", "verify", "--db", url]) == 1
    out = capsys.readouterr().out
    assert f"ledger BROKEN: entry 2 cannot be read ({why}" in out
    assert cli.main(["alerts", "verify", "--db", url, "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is False and result["broken_seq"] == 2 and result["entries"] == 1


def test_migration_0006_journals_access_decisions_recorded_before_it(tmp_path: Path) -> None:
    """Access decisions recorded before they joined the chain are journalled by migration 0006, so an
    existing database still verifies, and deleting one afterwards is caught."""
    with upgraded_from(
        tmp_path,
        "0005",
        "INSERT INTO access_decisions VALUES ('d1','CA0190000','suspend','2019-03-01 12:30:00',"
        "'sam','raid','2019-03-01 12:30:01')",
    ) as s:
        result = verify(s.engine)
        assert result.ok and result.entries == 1, result.problem
        with s.engine.begin() as conn:
            conn.execute(text("DELETE FROM access_decisions"))
        result = verify(s.engine)
        assert not result.ok and "journals access_decisions:d1, which is no longer there" in str(
            result.problem
        )
