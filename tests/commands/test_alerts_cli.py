"""``clets-watch alerts``: list, show, ack and resolve against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from clets_watch import cli
from schemas.outputs import Alert, Evidence
from sinks.db import DatabaseSink, SinkBatch


@pytest.fixture(autouse=True)
def isolated_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CLETS_WATCH_DB_URL", raising=False)
    monkeypatch.setenv("CLETS_WATCH_HOME", str(tmp_path / "home"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = (
        f"sqlite:///{tmp_path / 'clets-watch.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    sink = DatabaseSink(url)
    try:
        sink.write_batch(
            SinkBatch(
                alerts=[
                    alert(
                        "al-ero",
                        window_start="2019-03-01T14:00:00Z",
                        severity="critical",
                        component="ICE-ERO",
                        ori="CA0370000",
                    ),
                    alert("al-ccw", rule="ccw_checks", window_start="2019-03-01T13:00:00Z"),
                    alert(
                        "al-old",
                        window_start="2019-03-01T10:00:00Z",
                        status="suppressed",
                        suppressed_reason="repeat within cooldown",
                    ),
                ]
            )
        )
    finally:
        sink.close()
    yield url


def alert(alert_id: str, **kw: object) -> Alert:
    fields: dict[str, object] = {
        "alert_id": alert_id,
        "rule": "dmv_burst",
        "rule_version": 1,
        "severity": "high",
        "ori": "CA0190000",
        "key": "CA0190000",
        "window_start": "2019-03-01T12:00:00Z",
        "window_end": "2019-03-01T15:00:00Z",
        "summary": f"summary of {alert_id}",
        "evidence": Evidence(
            count=7, event_ids=("ev-1", "ev-2"), counts={"dmv_license": 7.0}, policy_rules=("POL-2b",)
        ),
    }
    fields.update(kw)
    return Alert(**fields)  # type: ignore[arg-type]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_no_action_lists_alerts_newest_window_first(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    code, out, err = run(capsys, "alerts", "--db", db_url)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["ALERT", "ID", "WINDOW"]
    assert [line.split()[0] for line in lines[1:4]] == ["al-ero", "al-ccw", "al-old"]
    assert "ICE-ERO" in lines[1] and "critical" in lines[1]
    assert lines[-1] == "3 alert(s)"


def test_list_filters_and_json(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    code, out, _ = run(capsys, "alerts", "list", "--db", db_url, "--rule", "dmv_burst", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["alert_id"] for r in rows] == ["al-ero", "al-old"]
    assert rows[0]["window_start"] == "2019-03-01T14:00:00Z"
    assert rows[0]["evidence"]["count"] == 7

    code, out, _ = run(capsys, "alerts", "--db", db_url, "--status", "suppressed", "--json")
    assert [r["alert_id"] for r in json.loads(out)] == ["al-old"]
    code, out, _ = run(
        capsys, "alerts", "list", "--db", db_url, "--ori", "CA0370000", "--severity", "critical", "--json"
    )
    assert [r["alert_id"] for r in json.loads(out)] == ["al-ero"]
    code, out, _ = run(capsys, "alerts", "--db", db_url, "--limit", "1", "--json")
    assert len(json.loads(out)) == 1
    code, out, _ = run(capsys, "alerts", "--db", db_url, "--rule", "no_such_rule")
    assert (code, out.strip()) == (0, "no alerts match")


def test_ack_resolve_and_show_with_the_ledger(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    code, out, err = run(
        capsys, "alerts", "ack", "al-ero", "--db", db_url, "--by", "j.doe", "--note", "on it"
    )
    assert code == 0, err
    assert out.startswith("acknowledged al-ero by j.doe")
    code, out, _ = run(capsys, "alerts", "--db", db_url, "--status", "acknowledged", "--json")
    assert [r["alert_id"] for r in json.loads(out)] == ["al-ero"]

    code, out, _ = run(
        capsys, "alerts", "--db", db_url, "resolve", "al-ero", "--by", "k.roe", "--note", "sent to DOJ"
    )
    assert code == 0 and out.startswith("resolved al-ero by k.roe")

    code, out, _ = run(capsys, "alerts", "show", "al-ero", "--db", db_url, "--json")
    shown = json.loads(out)
    assert shown["status"] == "resolved" and shown["raised_as"] == "fired"
    assert [(e["action"], e["actor"], e["note"]) for e in shown["ledger"]] == [
        ("fired", "clets-watch", None),
        ("acknowledged", "j.doe", "on it"),
        ("resolved", "k.roe", "sent to DOJ"),
    ]

    code, out, _ = run(capsys, "alerts", "show", "al-ero", "--db", db_url)
    assert code == 0
    assert "status    resolved (raised as fired)" in out
    assert "agency    CA0370000 (ICE-ERO)" in out
    assert "policy rules: POL-2b" in out
    assert "resolved     by k.roe: sent to DOJ" in out

    code, _, err = run(
        capsys, "alerts", "resolve", "al-ero", "--db", db_url, "--by", "k.roe", "--note", "again"
    )
    assert code == 2
    assert err.strip() == "clets-watch alerts: alert al-ero is already resolved"


def test_unknown_alert_is_a_clear_error(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    for argv in (("show", "nope"), ("ack", "nope", "--by", "a", "--note", "b")):
        code, out, err = run(capsys, "alerts", *argv, "--db", db_url)
        assert (code, out) == (2, "")
        assert err.strip() == "clets-watch alerts: no alert 'nope' in the database"
        assert "Traceback" not in err


def test_missing_database_file_says_what_to_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "alerts")
    expected = tmp_path / "home" / "clets-watch.db"
    assert code == 2 and out == ""
    assert err.strip() == (
        f"clets-watch alerts: no database at {expected}: run `clets-watch demo` or `clets-watch worker` first"
    )
    assert not expected.exists()  # reading never creates a database


def test_a_database_without_our_tables_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import sqlite3

    path = tmp_path / "other.db"
    sqlite3.connect(path).close()
    code, _, err = run(capsys, "alerts", "--db", f"sqlite:///{path}")
    assert code == 2
    assert "has no clets-watch tables" in err


def test_bad_limit_and_unreachable_server_are_user_errors(
    capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    code, _, err = run(capsys, "alerts", "--db", db_url, "--limit", "0")
    assert (code, err.strip()) == (2, "clets-watch alerts: --limit must be at least 1, got 0")
    code, _, err = run(capsys, "alerts", "--db", "postgresql+psycopg://u:hunter2@127.0.0.1:1/x")
    assert code == 2
    assert "cannot open database postgresql+psycopg://u:***@127.0.0.1:1/x" in err
    assert "hunter2" not in err


def test_ack_requires_a_name_and_a_note(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["alerts", "ack", "al-ero", "--db", db_url, "--by", "j.doe"])
    assert exc.value.code == 2
    assert "--note" in capsys.readouterr().err
