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
    finally:
        sink.close()
    return url


@pytest.mark.parametrize(
    "argv",
    [
        ["alerts"],
        ["alerts", "show", "al-hostile"],
        ["alerts", "ack", "al-hostile", "--by", "j.doe", "--note", HOSTILE],
        ["incidents"],
        ["incidents", "show", INCIDENT],
        ["incidents", "ack", INCIDENT, "--by", "j.doe", "--note", HOSTILE],
        ["access", "list"],
        ["access", "suspend", ORI, "--by", "k.roe", "--reason", HOSTILE, "--no-publish"],
    ],
    ids=lambda argv: " ".join(a for a in argv if a != HOSTILE)[:40],
)
def test_printing_commands_print_hostile_values_inert(
    capsys: pytest.CaptureFixture[str], db_url: str, argv: list[str]
) -> None:
    # the actions first record the hostile note, so the show commands after them print it too
    assert cli.main([argv[0], "--db", db_url, *argv[1:]]) == 0
    out = capsys.readouterr().out
    for show in (["alerts", "show", "al-hostile"], ["incidents", "show", INCIDENT], ["access", "list"]):
        assert cli.main([show[0], "--db", db_url, *show[1:]]) == 0
        out += capsys.readouterr().out
    assert _bad(out) == []
    assert "\\x1b]0;pwned\\x07" in out and "\\u202egnp.exe" in out  # shown, escaped
