"""``clets-watch audit-year``: an archive of the year plus the disclosures CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clets_watch.cli import UserError
from clets_watch.commands import audit_year
from processors.disclosures import parse_filings
from producers.archive import read_events, read_truth
from tests.helpers import run_ok


def run(*argv: str) -> str:
    return run_ok(audit_year, "audit-year", *argv)


def test_a_thin_2018_goes_to_an_archive_with_its_disclosures(tmp_path: Path) -> None:
    archive = tmp_path / "y" / "audit-2018.jsonl.gz"
    summary = json.loads(run("--to", str(archive), "--rate", "0.0001", "--raid-lookups", "60", "--json"))
    events = list(read_events(archive))
    assert summary["events"] == len(events) > 3000
    assert {e["occurred_at"][:4] for e in events} == {"2018"}
    raid = [t for t in read_truth(archive) if t["scenario"] == "raid"]
    assert len(raid) == 60
    assert {e["ori"] for e in events} >= {"CAICE0100", "CACBP0200", "CAHSI0100"}
    filings = parse_filings((tmp_path / "y" / "audit-2018.filings.csv").read_text())
    oris = {f.ori for f in filings}
    assert "CACIS0100" not in oris and "CA0300200" not in oris  # the agencies that never file
    assert all(f.investigations == 0 for f in filings if f.ori.startswith(("CAICE", "CACBP", "CAHSI")))


def test_bad_preset_and_rate_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown preset"):
        run("--to", str(tmp_path / "x.jsonl"), "--preset", "raid-2018")
    with pytest.raises(UserError, match="--rate must be"):
        run("--to", str(tmp_path / "x.jsonl"), "--rate", "0")


def test_a_progress_bar_on_stderr_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_year, "PROGRESS_EVERY", 500)  # a look at the event time every 500 events
    archive = tmp_path / "audit-2018.jsonl.gz"
    summary = json.loads(
        run("--to", str(archive), "--rate", "0.0001", "--raid-lookups", "60", "--json", "--progress")
    )
    err = capsys.readouterr().err
    draws = [d for d in err.split("\r") if d]
    assert len(draws) >= 2 and err.endswith("\n")
    first = float(draws[0].split("]")[1].split("%")[0])
    assert 0 < first < 100  # drawn while the year was being written, by the share of its event time
    assert "100.0%" in draws[-1] and f"{summary['events']:,} events" in draws[-1] and "events/s" in draws[-1]


def test_no_progress_bar_when_stderr_is_not_a_terminal_or_with_no_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for extra in ((), ("--no-progress",)):
        run("--to", str(tmp_path / "a.jsonl"), "--rate", "0.0001", "--raid-lookups", "10", *extra)
        assert capsys.readouterr().err == ""
