"""Finding 11: every command that prints what people, agencies or events wrote prints it inert. The walk
fills a database with hostile values in every free-text field (escape sequences, an OSC title change, a
carriage return, a bell, a bidi override, a zero-width space, a line separator) and runs each printing
command: no control, format or separator character reaches the terminal, only the newlines between lines."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from clets_watch import cli
from schemas import AccessDecision
from schemas.outputs import Evidence
from sinks.access_decisions import record_decision
from sinks.incidents import IncidentStore
from sinks.writer import SinkBatch
from tests.processors.factories import make_alert, make_incident
from tests.sinks.stores import Stores

HOSTILE = "ok\x1b[2K\r\x1b]0;pwned\x07\x1b[32mall clear\x1b[0m\u202egnp.exe\u200b\u2028x"
ORI = "CA0190000"
INCIDENT = "inc-hostile"


def _bad(out: str) -> list[str]:
    return sorted(
        {repr(ch) for ch in out if ch != "\n" and unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"}}
    )


@pytest.fixture(autouse=True)
def isolated_home(cli_home: Path) -> None:
    """A fresh home per test, holding the console users (tests/commands/conftest.py)."""


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'clets-watch.db'}"
    alert = make_alert(
        "al-hostile",
        ori=ORI,
        component=HOSTILE,
        key=HOSTILE,
        window_start="2019-03-01T12:00:00Z",
        window_end="2019-03-01T13:00:00Z",
        summary=HOSTILE,
        evidence=Evidence(count=1, event_ids=(HOSTILE,), policy_rules=(HOSTILE,), offsets=(HOSTILE,)),
        incident_id=INCIDENT,
    )
    incident = make_incident(
        INCIDENT,
        ori=ORI,
        key=HOSTILE,
        first_alert_id="al-hostile",
        first_window_start="2019-03-01T12:00:00Z",
        last_window_end="2019-03-01T13:00:00Z",
        counts_by_rule={HOSTILE: 1},
        evidence=(HOSTILE, "=cmd|' /C calc'!A0"),
        recommended_action=HOSTILE,
        story=HOSTILE,
    )
    sink = Stores.open(url)
    try:
        sink.writer.write_batch(SinkBatch(alerts=[alert], incidents=[incident]))
        record_decision(
            sink.engine,
            AccessDecision(
                decision_id="d" * 32,
                ori=ORI,
                action="suspend",
                effective_at="2019-03-01T12:30:00Z",
                by=HOSTILE,
                reason=HOSTILE,
            ),
        )
        # notes that did not come through the CLI or the API (both refuse controls): planted in the sink
        sink.alerts.acknowledge("al-hostile", "j.doe", HOSTILE)
        IncidentStore(sink.alerts).act(INCIDENT, "ack", "j.doe", HOSTILE)
    finally:
        sink.close()
    return url


@pytest.mark.parametrize(
    "argv",
    [
        ["alerts"],
        ["alerts", "show", "al-hostile"],
        ["alerts", "ack", "al-hostile", "--by", "j.doe", "--note", "on it"],
        ["incidents"],
        ["incidents", "show", INCIDENT],
        ["incidents", "ack", INCIDENT, "--by", "j.doe", "--note", "on it"],
        ["access", "list"],
        ["access", "suspend", ORI, "--by", "k.roe", "--reason", "raid", "--no-publish"],
    ],
    ids=lambda argv: " ".join(a for a in argv if a != HOSTILE)[:40],
)
def test_printing_commands_print_hostile_values_inert(
    capsys: pytest.CaptureFixture[str], db_url: str, argv: list[str]
) -> None:
    # the show commands after each action print the planted hostile notes too
    assert cli.main([argv[0], "--db", db_url, *argv[1:]]) == 0
    out = capsys.readouterr().out
    for show in (["alerts", "show", "al-hostile"], ["incidents", "show", INCIDENT], ["access", "list"]):
        assert cli.main([show[0], "--db", db_url, *show[1:]]) == 0
        out += capsys.readouterr().out
    assert _bad(out) == []
    assert "\\x1b]0;pwned\\x07" in out and "\\u202egnp.exe" in out  # shown, escaped


@pytest.mark.parametrize(
    "argv",
    [
        ["alerts", "ack", "al-hostile", "--by", "j.doe", "--note"],
        ["alerts", "resolve", "al-hostile", "--by", "j.doe", "--note"],
        ["incidents", "ack", INCIDENT, "--by", "j.doe", "--note"],
        ["incidents", "resolve", INCIDENT, "--by", "j.doe", "--note"],
        ["access", "suspend", ORI, "--by", "k.roe", "--no-publish", "--reason"],
        ["access", "restore", ORI, "--by", "k.roe", "--no-publish", "--reason"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
@pytest.mark.parametrize("text", ["ok\x1b]0;pwned\x07", "ok\x1b[2K", "ok\x00", "ok\x9b31m", "x" * 2001])
def test_cli_notes_and_reasons_pass_the_apis_validator(
    capsys: pytest.CaptureFixture[str], db_url: str, argv: list[str], text: str
) -> None:
    """N7: ``--note`` and ``--reason`` get the API's check (web.models.VisibleText): exit 2, one line naming
    the flag, nothing recorded."""
    before = ledger_notes(db_url, capsys)
    assert cli.main([argv[0], "--db", db_url, *argv[1:], text]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{argv[-1]} " in err
    assert ledger_notes(db_url, capsys) == before


def ledger_notes(db_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    shown = ""
    for show in (["alerts", "show", "al-hostile"], ["incidents", "show", INCIDENT], ["access", "list"]):
        assert cli.main([show[0], "--db", db_url, *show[1:]]) == 0
        shown += capsys.readouterr().out
    return shown
