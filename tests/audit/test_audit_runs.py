"""Audit runs in the database: a recorded replay, its counts and alerts, never the live tables; diffs."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from clets_watch.commands import replay
from sinks.audit import AuditStore, Filters, diff_alerts
from sinks.models import AlertRecord, QueryVerdict, WindowAggregate
from tests.helpers import run_ok

from .conftest import RecordedYear


def cli(*argv: str) -> str:
    return run_ok(replay, "replay", *argv)


def test_a_recorded_run_holds_counts_alerts_and_the_input_range(recorded_year: RecordedYear) -> None:
    with AuditStore(recorded_year.db_url) as store:
        run = store.require_run("y2018")
        counts = store.verdict_counts("y2018")
        alerts = store.alerts("y2018")
        with store.engine.connect() as conn:
            live = [
                conn.scalar(select(func.count()).select_from(t))
                for t in (QueryVerdict, WindowAggregate, AlertRecord)
            ]
    assert live == [0, 0, 0]  # a replay never writes the live tables
    assert (
        run.policy_version == "1"
        and run.input_kind == "archive"
        and str(recorded_year.archive) in run.input_description
    )
    assert run.first_event_at is not None and run.first_event_at.year == 2018
    assert sum(c.queries for c in counts) == run.counts["events"] > 10_000
    assert {c.month[:4] for c in counts} == {"2018"} and len({c.month for c in counts}) == 12
    assert len(alerts) == run.counts["alerts"] and run.counts["alerts_by_rule"]["prohibited_query"] > 0
    assert "recorded audit run y2018" in recorded_year.summary and "events/s" in recorded_year.summary


def test_replaying_the_same_input_again_gives_byte_identical_alerts(recorded_year: RecordedYear) -> None:
    # the archive replayed without --record prints exactly the JSON lines the run stored
    printed = cli("--input", str(recorded_year.archive), "--json").splitlines()
    with AuditStore(recorded_year.db_url) as store:
        assert store.alert_lines("y2018") == printed


def test_filters_narrow_counts_and_alerts(recorded_year: RecordedYear) -> None:
    with AuditStore(recorded_year.db_url) as store:
        ero = store.verdict_counts("y2018", Filters(component="ICE-ERO"))
        dhs = store.verdict_counts("y2018", Filters(department="DHS"))
        ero_alerts = store.alerts("y2018", Filters(component="ICE-ERO"))
        dhs_alerts = store.alerts("y2018", Filters(department="DHS"))
        one = store.verdict_counts("y2018", Filters(ori="CAICE0100", year=2018))
        none = store.verdict_counts("y2018", Filters(year=2019))
        ops = store.operator_flags("y2018", Filters(component="ICE-ERO"), limit=5)
    assert {c.component for c in ero} == {"ICE-ERO"} and {c.department for c in dhs} == {"DHS"}
    assert sum(c.queries for c in ero) < sum(c.queries for c in dhs)
    assert ero_alerts and {a["component"] for a in ero_alerts} == {"ICE-ERO"}
    assert len(ero_alerts) < len(dhs_alerts)
    assert {c.ori for c in one} == {"CAICE0100"} and none == []
    assert ops and all(o.component == "ICE-ERO" and o.flagged > 0 for o in ops)
    assert [o.flagged for o in ops] == sorted((o.flagged for o in ops), reverse=True)


def test_diff_of_two_rule_versions_shows_what_changed(recorded_year: RecordedYear, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  prohibited_query:\n    version: 2\n")
    out = cli(
        "--input",
        str(recorded_year.archive),
        "--rules",
        str(rules),
        "--record",
        "--run-id",
        "y2018-rules2",
        "--db",
        recorded_year.db_url,
        "--json",
        "--no-progress",
    )
    summary = json.loads(out)
    assert summary["run_id"] == "y2018-rules2" and summary["rules_version"] != ""
    diff = json.loads(cli("--diff", "y2018", "y2018-rules2", "--db", recorded_year.db_url, "--json"))
    # a new rule version gives new alert ids for that rule; every other alert is the same
    assert diff["only_a"] and {a["rule"] for a in diff["only_a"]} == {"prohibited_query"}
    assert len(diff["only_a"]) == len(diff["only_b"]) and diff["changed"] == [] and diff["same"] > 0
    text = cli("--diff", "y2018", "y2018-rules2", "--db", recorded_year.db_url)
    assert "only in y2018-rules2" in text and "prohibited_query" in text
    listing = cli("--list-runs", "--db", recorded_year.db_url)
    assert "y2018" in listing and "y2018-rules2" in listing


def test_diff_against_live_and_changed_fields() -> None:
    a = [{"alert_id": "x", "rule": "r", "window_start": "t", "evidence": {"count": 3, "offsets": ["f:1"]}}]
    b = [{"alert_id": "x", "rule": "r", "window_start": "t", "evidence": {"count": 4, "offsets": ["q/0/1"]}}]
    d = diff_alerts("a", a, "b", b)
    assert [f for _a, _b, f in d.changed] == [["evidence.count"]]
    same = diff_alerts("a", a, "b", [{**b[0], "evidence": {"count": 3, "offsets": ["q/0/9"]}}])
    assert same.identical  # where the events sat in the input is not a difference


def test_recording_errors_are_user_errors(recorded_year: RecordedYear) -> None:
    from clets_watch.cli import UserError

    with pytest.raises(UserError, match="already exists"):
        cli(
            "--input",
            str(recorded_year.archive),
            "--record",
            "--run-id",
            "y2018",
            "--db",
            recorded_year.db_url,
        )
    with pytest.raises(UserError, match="no audit run 'nope'"):
        cli("--diff", "y2018", "nope", "--db", recorded_year.db_url)
    with pytest.raises(UserError, match="--run-id names a recorded run"):
        cli("--input", str(recorded_year.archive), "--run-id", "x")
    with pytest.raises(UserError, match="nothing to replay"):
        cli("--json")
    with pytest.raises(UserError, match="go with --from-kafka"):
        cli("--input", str(recorded_year.archive), "--since", "2018-01-01")
