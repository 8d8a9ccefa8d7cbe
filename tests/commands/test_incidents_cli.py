"""``clets-watch incidents`` and the incidents table: pipeline results written by the sink, listed, shown,
acknowledged and resolved (a ledger entry on the incident and on each of its alerts)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from clets_watch import cli
from processors.agencies import AgencyRegistry
from processors.pipeline import Pipeline, PipelineConfig
from processors.pseudonymize import Pseudonymizer
from sinks.incidents import IncidentStore
from sinks.writer import SinkBatch
from tests.processors.factories import DHS_ORI, LASD, fake_classify, raw
from tests.sinks.stores import Stores

# a fresh home per test, holding the console users that ``--by`` must name (tests/commands/conftest.py)
pytestmark = pytest.mark.usefixtures("cli_home")


@pytest.fixture
def db_url(empty_db_url: str) -> Iterator[str]:
    url = empty_db_url
    p = Pipeline(fake_classify, AgencyRegistry.load(), Pseudonymizer(b"k"), PipelineConfig())
    stream = [raw(f"e{i}", i * 30, ori=DHS_ORI, message_type="DQ", reason="deport") for i in range(40)]
    stream += [raw(f"l{i}", i * 30, ori=LASD, message_type="QH", reason="459 PC") for i in range(40)]
    batch = SinkBatch()
    for i, r in enumerate(stream):
        step = p.process_raw(r, source=f"q/0/{i}")
        batch.alerts += step.alerts
        batch.incidents += step.incidents
    step = p.close()
    batch.alerts += step.alerts
    batch.incidents += step.incidents
    sink = Stores.open(url)
    try:
        sink.writer.write_batch(batch)
        sink.writer.write_batch(batch)  # idempotent
    finally:
        sink.close()
    yield url


def cli_json_lines(args: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    assert cli.main(args) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def the_incident_id(db_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    """The id of the one incident the fixture's stream opens (listed as JSON)."""
    [inc] = cli_json_lines(["incidents", "list", "--db", db_url, "--json"], capsys)
    return str(inc["incident_id"])


def test_the_table_has_a_header_naming_both_states(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A new user's finding: the list's two state columns ("resolved open") were unexplained."""
    assert cli.main(["incidents", "list", "--db", db_url]) == 0
    header, row, *_ = capsys.readouterr().out.splitlines()
    assert header.split() == ["INCIDENT", "ID", "SEVERITY", "ON-CALL", "PIPELINE", "ALERTS", "STORY"]
    assert row.split()[1:4] == ["critical", "open", "open"]
    assert row.index("critical") == header.index("SEVERITY")


def test_list_show_ack_resolve(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    [inc] = cli_json_lines(["incidents", "list", "--db", db_url, "--json"], capsys)
    assert inc["ori"] == DHS_ORI and inc["severity"] == "critical" and inc["state"] == "open"
    counts = inc["counts_by_rule"]
    assert isinstance(counts, dict) and counts["prohibited_query"] == 40
    assert inc["alerts"] == sum(counts.values())
    iid = str(inc["incident_id"])
    [shown] = cli_json_lines(["incidents", "show", iid, "--db", db_url, "--json"], capsys)
    assert len(shown["alert_ids"]) == inc["alerts"]  # type: ignore[arg-type]

    [entry] = cli_json_lines(
        ["incidents", "ack", iid, "--by", "on.call", "--note", "looking", "--db", db_url, "--json"], capsys
    )
    assert entry["action"] == "acknowledged" and entry["alerts"] == inc["alerts"]
    sink = Stores.open(db_url, create=False)
    try:
        store = IncidentStore(sink.alerts)
        assert store.get(iid).state == "acknowledged"  # type: ignore[union-attr]
        for a in store.alerts(iid):
            assert a.status == "acknowledged" and a.incident_id == iid
            assert [e.action for e in sink.alerts.alert_ledger(a.alert_id)][-1] == "acknowledged"
        # one alert resolved on its own first: the incident's resolve reaches the others
        first = store.alerts(iid)[0].alert_id
        sink.alerts.resolve(first, "Someone", "done")
    finally:
        sink.close()
    assert (
        cli.main(
            ["incidents", "resolve", iid, "--by", "on.call", "--note", "access suspended", "--db", db_url]
        )
        == 0
    )
    assert f"resolved incident {iid} and {int(inc['alerts']) - 1} alert(s)" in capsys.readouterr().out
    assert cli.main(["incidents", "show", iid, "--db", db_url]) == 0
    text = capsys.readouterr().out
    assert "acknowledged by on.call: looking" in text and "resolved by on.call: access suspended" in text
    assert cli_json_lines(["incidents", "--state", "open", "--db", db_url, "--json"], capsys) == []
    assert cli.main(["incidents", "resolve", iid, "--by", "on.call", "--note", "again", "--db", db_url]) != 0
    assert "already resolved" in capsys.readouterr().err


def test_an_incident_action_needs_a_responder_and_a_note(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    iid = the_incident_id(db_url, capsys)
    for by, note, why in (
        ("nobody", "looking", "not a user"),
        ("v.iew", "looking", "responder role"),
        ("clets-watch", "looking", "reserved"),
        ("on.call", "  ", "needs a note"),
    ):
        assert cli.main(["incidents", "ack", iid, "--by", by, "--note", note, "--db", db_url]) == 2
        assert why in capsys.readouterr().err
    [still] = cli_json_lines(["incidents", "show", iid, "--db", db_url, "--json"], capsys)
    assert still["state"] == "open" and still["ledger"] == []


def test_incident_actions_join_the_hash_chain(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from sinks.ledger import verify

    iid = the_incident_id(db_url, capsys)
    assert cli.main(["incidents", "ack", iid, "--by", "on.call", "--note", "mine", "--db", db_url]) == 0
    sink = Stores.open(db_url, create=False)
    try:
        result = verify(sink.engine)
        assert result.ok, result.problem
        with sink.engine.connect() as conn:
            kinds = [
                r[0]
                for r in conn.execute(
                    text("SELECT entity_kind FROM ledger_entries WHERE ref LIKE :ref"),
                    {"ref": "incident_ledger:%"},
                )
            ]
            assert kinds == ["incident"]
            with pytest.raises(Exception, match="append-only"):
                conn.exec_driver_sql("UPDATE incident_ledger SET note = 'rewritten'")
    finally:
        sink.close()


def test_unknown_incident_is_named(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["incidents", "show", "nope", "--db", db_url]) != 0
    assert "no incident 'nope'" in capsys.readouterr().err


def test_verify_catches_an_incident_state_changed_behind_the_ledger(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Finding 3: an incident set to resolved with plain SQL (no resolve in its ledger) fails verify."""
    iid = the_incident_id(db_url, capsys)
    cli_json_lines(
        ["incidents", "ack", iid, "--by", "on.call", "--note", "looking", "--db", db_url, "--json"], capsys
    )
    assert cli.main(["alerts", "verify", "--db", db_url]) == 0
    capsys.readouterr()
    sink = Stores.open(db_url, create=False)
    try:
        with sink.engine.begin() as conn:
            conn.exec_driver_sql(f"UPDATE incidents SET state = 'resolved' WHERE incident_id = '{iid}'")
    finally:
        sink.close()
    assert cli.main(["alerts", "verify", "--db", db_url]) == 1
    assert f"incident {iid} is 'resolved' but its ledger says 'acknowledged'" in capsys.readouterr().out
