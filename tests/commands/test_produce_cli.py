"""``clets-watch produce`` to an archive file, the scenario list, and user mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clets_watch.cli import main
from producers.archive import read_events, read_truth

BASE = [
    "produce",
    "--seed",
    "3",
    "--start",
    "2019-03-05T05:00-08:00",
    "--minutes",
    "30",
    "--rate",
    "0.5",
    "--quiet",
]


def test_list_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["produce", "--list-scenarios"]) == 0
    out = capsys.readouterr().out
    for name in ("background", "raid", "snooping", "silent_agency", "ccw", "after_hours"):
        assert name in out
    assert main(["produce", "--list-scenarios", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # one scenario per line
    assert {x["name"] for x in listed} >= {"raid", "snooping"} and all(x["description"] for x in listed)


def test_produce_to_file_with_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run.jsonl.gz"
    assert main([*BASE, "--to", str(out), "--scenario", "raid", "--scenario", "after_hours", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    events = list(read_events(out))
    truth = list(read_truth(out))
    assert summary["truth"]["events"] == len(events) == len(truth) > 160
    assert summary["truth"]["by_scenario"]["raid"] == 160
    assert summary["truth_file"] == str(tmp_path / "run.truth.jsonl.gz")
    assert [s["scenario"] for s in summary["scenarios"]] == ["raid", "after_hours"]
    assert sum(summary["truth"]["by_verdict"].values()) == len(events)
    assert summary["truth"]["by_scenario_verdict"]["raid"].get("prohibited", 0) > 100


def test_same_arguments_same_file(tmp_path: Path) -> None:
    assert main([*BASE, "--to", str(tmp_path / "a.jsonl"), "--scenario", "snooping"]) == 0
    assert main([*BASE, "--to", str(tmp_path / "b.jsonl"), "--scenario", "snooping"]) == 0
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_human_summary_and_no_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run.jsonl"
    assert main([*BASE, "--to", str(out), "--no-truth", "--scenario", "raid:oris=CACBP0100,minutes=10"]) == 0
    text = capsys.readouterr().out
    assert f"to {out}" in text and "scenario raid: oris=['CACBP0100']" in text
    assert "total" in text and "misuse (ground truth)" in text
    assert not (tmp_path / "run.truth.jsonl").exists()


def test_scenarios_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "raid.jsonl"
    assert main([*BASE, "--to", str(out), "--no-background", "--scenario", "raid", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["truth"]["by_scenario"] == {"raid": 160}


def test_progress_goes_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import clets_watch.commands.produce as produce_cmd

    monkeypatch.setattr(produce_cmd, "PROGRESS_SECONDS", 0.0)
    args = [a for a in BASE if a != "--quiet"]
    assert main([*args, "--minutes", "120", "--rate", "20", "--to", str(tmp_path / "p.jsonl")]) == 0
    captured = capsys.readouterr()
    assert "produce: " in captured.err and " events, event time " in captured.err
    assert "produce: " not in captured.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["produce"], "--to kafka or --to FILE"),
        (["produce", "--to", "x.jsonl", "--scenario", "parade"], "unknown scenario 'parade'"),
        (
            ["produce", "--to", "x.jsonl", "--scenario", "raid:oris=CAXXX0000"],
            "CAXXX0000 is not in the agency registry",
        ),
        (["produce", "--to", "x.jsonl", "--start", "yesterday"], "is not an ISO 8601 date-time"),
        (["produce", "--to", "x.jsonl", "--minutes", "0"], "--minutes must be positive"),
        (["produce", "--to", "x.jsonl", "--jitter", "500"], "allowed lateness"),
        (["produce", "--to", "x.jsonl", "--pace", "10"], "--pace is for --to kafka"),
        (["produce", "--to", "/no/such/folder/x.jsonl"], "folder /no/such/folder does not exist"),
        (["produce", "--to", "x.jsonl", "--agencies", "/no/such.csv"], "cannot read agency registry"),
        (["produce", "--to", "kafka", "--bootstrap", "127.0.0.1:1"], "no Kafka broker at 127.0.0.1:1"),
    ],
)
def test_user_mistakes_are_one_line_errors(
    argv: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "x.jsonl").exists()


def _draws(err: str) -> list[str]:
    return [d for d in err.split("\r") if d.strip()]


def test_a_progress_bar_on_stderr_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*BASE, "--minutes", "120", "--rate", "20", "--to", str(tmp_path / "p.jsonl"), "--json"]
    assert main([*argv, "--progress"]) == 0  # --progress wins over --quiet and --json
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    draws = _draws(captured.err)
    assert captured.err.endswith("\n") and "produce: " not in captured.err
    assert "100.0%" in draws[-1] and f"{summary['truth']['events']:,} events" in draws[-1]
    assert "events/s" in draws[-1] and "ETA" in draws[-1]


@pytest.mark.parametrize(
    ("extra", "terminal", "bar", "lines"),
    [
        ([], True, True, False),  # a person at a terminal: the bar
        (["--json"], True, False, True),  # output for a program: no bar; the log lines as before
        (["--quiet"], True, False, False),
        (["--no-progress"], True, False, False),
        ([], False, False, True),  # stderr is a log (docker-compose): a line every few seconds
        (["--quiet"], False, False, False),
        (["--progress"], False, True, False),
    ],
)
def test_progress_is_a_bar_on_a_terminal_and_lines_in_a_log(
    extra: list[str],
    terminal: bool,
    bar: bool,
    lines: bool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    import clets_watch.commands.produce as produce_cmd

    monkeypatch.setattr(produce_cmd, "PROGRESS_SECONDS", 0.0)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal)
    args = [a for a in BASE if a != "--quiet"]
    assert main([*args, "--minutes", "120", "--rate", "20", "--to", str(tmp_path / "p.jsonl"), *extra]) == 0
    err = capsys.readouterr().err
    assert ("100.0%" in err) is bar
    assert ("produce: " in err) is lines
