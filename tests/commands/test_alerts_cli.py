"""``clets-watch alerts``: list, show, ack and resolve against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from clets_watch import cli
from clets_watch.settings import get_settings
from clets_watch.web.users import add_user
from schemas.outputs import Alert, Evidence
from sinks.writer import SinkBatch
from tests.processors.factories import dmv_alert
from tests.sinks.stores import Stores

# a fresh home per test, holding the console users that ``--by`` must name (tests/commands/conftest.py)
pytestmark = pytest.mark.usefixtures("cli_home")


@pytest.fixture
def db_url(empty_db_url: str) -> Iterator[str]:
    url = empty_db_url
    sink = Stores.open(url)
    try:
        sink.writer.write_batch(
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


def alert(alert_id: str, **fields: Any) -> Alert:
    """A burst of 7 DMV look-ups up to 15:00; ``fields`` sets the others."""
    return dmv_alert(
        alert_id,
        **{
            "window_end": "2019-03-01T15:00:00Z",
            "summary": f"summary of {alert_id}",
            "evidence": Evidence(
                count=7, event_ids=("ev-1", "ev-2"), counts={"dmv_license": 7.0}, policy_rules=("POL-2b",)
            ),
            **fields,
        },
    )


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
    rows = [json.loads(line) for line in out.splitlines()]  # JSON lines: one alert per line
    assert [r["alert_id"] for r in rows] == ["al-ero", "al-old"]
    assert rows[0]["window_start"] == "2019-03-01T14:00:00Z"
    assert rows[0]["evidence"]["count"] == 7

    code, out, _ = run(capsys, "alerts", "--db", db_url, "--status", "suppressed", "--json")
    assert [json.loads(line)["alert_id"] for line in out.splitlines()] == ["al-old"]
    # 'open', as the console and its API say, is the stored 'fired' (a new user's finding)
    _, fired, _ = run(capsys, "alerts", "--db", db_url, "--status", "fired", "--json")
    code, out, _ = run(capsys, "alerts", "--db", db_url, "--status", "open", "--json")
    assert (
        code == 0
        and out == fired
        and [json.loads(x)["alert_id"] for x in out.splitlines()]
        == [
            "al-ero",
            "al-ccw",
        ]
    )
    code, out, _ = run(
        capsys, "alerts", "list", "--db", db_url, "--ori", "CA0370000", "--severity", "critical", "--json"
    )
    assert [json.loads(line)["alert_id"] for line in out.splitlines()] == ["al-ero"]
    code, out, err = run(capsys, "alerts", "--db", db_url, "--limit", "1", "--json")
    assert len(out.splitlines()) == 1 and json.loads(out)["alert_id"]
    assert "limit reached: 1 alerts printed" in err  # on stderr, so stdout stays JSON lines
    code, out, err = run(capsys, "alerts", "--db", db_url, "--json")
    assert len(out.splitlines()) == 3 and err == ""
    code, out, _ = run(capsys, "alerts", "--db", db_url, "--rule", "prohibited_query")
    assert (code, out.strip()) == (0, "no alerts match")  # a rule of the catalogue with no alerts


def test_a_misspelt_rule_is_an_error_naming_the_nearest(
    capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    """A new user's finding: --rule prohibited_querry printed "no alerts match", as if there were none."""
    code, out, err = run(capsys, "alerts", "--db", db_url, "--rule", "prohibited_querry")
    assert (code, out) == (2, "")
    assert "unknown rule 'prohibited_querry' (did you mean 'prohibited_query'?)" in err, err


def test_ack_resolve_and_show_with_the_ledger(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    code, out, err = run(
        capsys, "alerts", "ack", "al-ero", "--db", db_url, "--by", "j.doe", "--note", "on it"
    )
    assert code == 0, err
    assert out.startswith("acknowledged al-ero by j.doe")
    code, out, _ = run(capsys, "alerts", "--db", db_url, "--status", "acknowledged", "--json")
    assert [json.loads(line)["alert_id"] for line in out.splitlines()] == ["al-ero"]

    code, out, _ = run(
        capsys, "alerts", "--db", db_url, "resolve", "al-ero", "--by", "k.roe", "--note", "sent to DOJ"
    )
    assert code == 0 and out.startswith("resolved al-ero by k.roe")

    code, out, _ = run(capsys, "alerts", "show", "al-ero", "--db", db_url, "--json")
    assert out.count("\n") == 1  # one JSON object on one line
    shown = json.loads(out)
    assert shown["status"] == "resolved" and shown["raised_as"] == "fired"
    assert [(e["action"], e["actor"], (e["note"] or "").split(" [via CLI")[0]) for e in shown["ledger"]] == [
        ("fired", "clets-watch", ""),
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
    for argv in (("show", "nope"), ("ack", "nope", "--by", "j.doe", "--note", "b")):
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


@pytest.mark.parametrize(
    ("by", "message"),
    [
        ("mallory", "'mallory' is not a user in"),
        ("v.iew", "needs the responder role; v.iew is a viewer"),
        ("clets-watch", "reserved for the pipeline itself"),
        ("CLETS-WATCH", "reserved for the pipeline itself"),
    ],
)
def test_by_must_name_a_responder_from_the_users_file(
    capsys: pytest.CaptureFixture[str], db_url: str, by: str, message: str
) -> None:
    code, out, err = run(capsys, "alerts", "ack", "al-ero", "--db", db_url, "--by", by, "--note", "on it")
    assert (code, out) == (2, "") and message in err
    code, out, _ = run(capsys, "alerts", "show", "al-ero", "--db", db_url, "--json")
    assert [e["action"] for e in json.loads(out)["ledger"]] == ["fired"]  # nothing was recorded


def test_users_must_be_the_consoles_own_file(
    capsys: pytest.CaptureFixture[str], db_url: str, tmp_path: Path, cli_home: Path
) -> None:
    """Finding 4: --users naming any other file (here one an attacker wrote, with their own user) is
    refused; naming the console's file, or setting CLETS_WATCH_CONSOLE_USERS_FILE, is not."""
    other = tmp_path / "other-users.toml"
    add_user(other, "o.ther", "responder", "long shared passphrase 42")
    ack = ["alerts", "ack", "al-ero", "--db", db_url, "--note", "x"]
    code, _, err = run(capsys, *ack, "--by", "o.ther", "--users", str(other))
    assert code == 2 and "is not the console's users file" in err
    code, out, err = run(capsys, *ack, "--by", "j.doe", "--users", str(cli_home / "console-users.toml"))
    assert code == 0 and out.startswith("acknowledged al-ero by j.doe"), err


def test_the_users_file_can_be_configured(
    capsys: pytest.CaptureFixture[str], db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "ops" / "users.toml"
    add_user(other, "o.ther", "responder", "long shared passphrase 42")
    monkeypatch.setenv("CLETS_WATCH_CONSOLE_USERS_FILE", str(other))
    code, out, err = run(capsys, "alerts", "ack", "al-ero", "--db", db_url, "--note", "x", "--by", "o.ther")
    assert code == 0 and out.startswith("acknowledged al-ero by o.ther"), err


FAKE_HASH_USERS = """[users."chief.auditor"]
role = "supervisor"
password_hash = "$argon2id$not-a-real-hash"
"""


@pytest.mark.parametrize(
    ("by", "password", "message"),
    [
        ("j.doe", "wrong passphrase here", "--by j.doe: wrong password"),
        ("j.doe", "", "--by j.doe: wrong password"),
        ("chief.auditor", "anything at all", "is not a valid Argon2 hash"),
        ("mallory", "long shared passphrase 42", "'mallory' is not a user in"),
        ("system", "long shared passphrase 42", "reserved for the pipeline itself"),
        ("clets-watch", "long shared passphrase 42", "reserved for the pipeline itself"),
        ("Clets_Watch", "long shared passphrase 42", "reserved for the pipeline itself"),
    ],
)
def test_the_cli_actor_is_authenticated(
    capsys: pytest.CaptureFixture[str],
    db_url: str,
    cli_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    by: str,
    password: str,
    message: str,
) -> None:
    """Finding 4: the CLI's actor proves who they are (a wrong password, a fake hash in the users file, an
    unknown user and the pipeline's own names are refused), and nothing is recorded when refused."""
    users = cli_home / "console-users.toml"
    users.write_text(users.read_text() + FAKE_HASH_USERS)
    monkeypatch.setenv("CLETS_WATCH_ACTOR_PASSWORD", password)
    code, out, err = run(capsys, "alerts", "resolve", "al-ero", "--db", db_url, "--by", by, "--note", "done")
    assert (code, out) == (2, "") and message in err, err
    code, out, _ = run(capsys, "alerts", "show", "al-ero", "--db", db_url, "--json")
    assert [e["action"] for e in json.loads(out)["ledger"]] == ["fired"]


def test_the_password_comes_from_an_owner_only_file(
    capsys: pytest.CaptureFixture[str], db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLETS_WATCH_ACTOR_PASSWORD")
    ack = ["alerts", "ack", "al-ero", "--db", db_url, "--by", "j.doe", "--note", "seen"]
    code, _, err = run(capsys, *ack)  # no file, no variable, no terminal
    assert code == 2 and "the password of j.doe is needed" in err
    secret = tmp_path / "pw"
    secret.write_text("long shared passphrase 42\n")
    secret.chmod(0o640)
    code, _, err = run(capsys, *ack, "--password-file", str(secret))
    assert code == 2 and "may be read by its group or others (mode 0640)" in err
    secret.chmod(0o600)
    code, out, err = run(capsys, *ack, "--password-file", str(secret))
    assert code == 0 and out.startswith("acknowledged al-ero by j.doe"), err


def test_the_ledger_says_the_action_came_from_the_cli(
    capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    run(capsys, "alerts", "ack", "al-ero", "--db", db_url, "--by", "j.doe", "--note", "on it")
    _, out, _ = run(capsys, "alerts", "show", "al-ero", "--db", db_url, "--json")
    note = json.loads(out)["ledger"][1]["note"]
    assert note.startswith("on it [via CLI: os user ") and " on host " in note


@pytest.mark.parametrize("note", ["", "   ", "\n\t"])
def test_an_empty_note_is_refused(capsys: pytest.CaptureFixture[str], db_url: str, note: str) -> None:
    code, _, err = run(capsys, "alerts", "resolve", "al-ero", "--db", db_url, "--by", "j.doe", "--note", note)
    assert code == 2 and "--note is empty" in err


def test_terminal_output_is_sanitised(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    """A note with escape sequences and a newline prints inert, on its own line: it cannot clear the
    screen, recolour, or print a fake ledger line."""
    fake = "\x1b[2J\x1b[31mcleared\r\n  2019-03-01T15:00:00Z  resolved     by k.roe: all fine\u202e"
    code, _, err = run(capsys, "alerts", "ack", "al-ero", "--db", db_url, "--by", "j.doe", "--note", fake)
    assert code == 2 and err.endswith(
        ": --note holds a control character (only tab and line breaks are allowed)\n"
    )
    sink = Stores.open(db_url)  # such a note can still reach the ledger another way than the CLI or the API
    try:
        sink.alerts.acknowledge("al-ero", "j.doe", fake)
    finally:
        sink.close()
    code, out, _ = run(capsys, "alerts", "show", "al-ero", "--db", db_url)
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out
    assert "\\x1b[2J\\x1b[31mcleared\\x0d\\x0a  2019-03-01T15:00:00Z  resolved" in out
    ledger_lines = out.split("ledger:\n", 1)[1].splitlines()
    assert len(ledger_lines) == 2 and "resolved     by k.roe" not in ledger_lines[1].split(":", 1)[0]
    code, out, _ = run(capsys, "alerts", "--db", db_url)
    assert "\x1b" not in out
    code, out, _ = run(capsys, "alerts", "show", "al-ero", "--db", db_url, "--json")
    assert json.loads(out)["ledger"][1]["note"] == fake  # stored as written; only the display is inert


def test_verify_reports_an_intact_ledger_and_its_head(
    capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    run(capsys, "alerts", "ack", "al-ero", "--db", db_url, "--by", "j.doe", "--note", "on it")
    code, out, _ = run(capsys, "alerts", "verify", "--db", db_url)
    assert code == 0 and out.startswith("ledger ok: 4 entries, head ")  # 3 fired/suppressed + 1 ack
    head = out.split("head ", 1)[1].strip()
    code, out, _ = run(capsys, "alerts", "verify", "--db", db_url, "--expect-head", head, "--json")
    assert code == 0 and json.loads(out) == {
        "ok": True,
        "entries": 4,
        "head": head,
        "broken_seq": None,
        "problem": None,
    }
    run(capsys, "alerts", "resolve", "al-ero", "--db", db_url, "--by", "j.doe", "--note", "done")
    code, out, _ = run(capsys, "alerts", "verify", "--db", db_url, "--expect-head", head)
    assert code == 0  # appending keeps the old head on the chain...
    code, out, _ = run(capsys, "alerts", "verify", "--db", db_url, "--expect-head", "f" * 64)
    assert code == 1 and "does not pass through" in out  # ...a head never recorded is not on it


@pytest.mark.parametrize(
    ("swap", "message"),
    [
        (lambda home: (home / "console-users.toml").chmod(0o620), "is writable by its group (mode 0620)"),
        (lambda home: home.chmod(0o777), "writable by its group and others (mode 0777), who could swap"),
        (lambda home: os.chown(home / "console-users.toml", 65534, -1), "is owned by uid 65534"),
        (
            lambda home: (
                (home / "console-users.toml").rename(home / "real.toml"),
                (home / "console-users.toml").symlink_to(home / "real.toml"),
            ),
            "is a symlink",
        ),
    ],
    ids=["group-writable-file", "world-writable-folder", "other-owner", "symlink"],
)
def test_in_production_the_cli_refuses_a_users_file_another_account_could_swap(
    capsys: pytest.CaptureFixture[str],
    db_url: str,
    cli_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    swap: Callable[[Path], object],
    message: str,
) -> None:
    """N2: like the console, the CLI in production takes its actor only from the current user's own users
    file (no symlink) in a folder its group and others cannot write; nothing is recorded otherwise."""
    monkeypatch.setenv("CLETS_WATCH_ENV", "production")
    get_settings.cache_clear()
    swap(cli_home)
    try:
        code, _, err = run(
            capsys, "alerts", "ack", "al-ero", "--db", db_url, "--by", "j.doe", "--note", "on it"
        )
    finally:
        cli_home.chmod(0o700)
        get_settings.cache_clear()
    assert code == 2 and message in err, err
    monkeypatch.delenv("CLETS_WATCH_ENV")
    _, out, _ = run(capsys, "alerts", "show", "al-ero", "--db", db_url, "--json")
    assert [e["action"] for e in json.loads(out)["ledger"]] == ["fired"]
