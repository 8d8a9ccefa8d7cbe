"""``clets-watch replay --workers N``: the stream split by agency over N processes gives byte-identical
output to one process — alerts, summary, recorded runs — with late events, duplicates (also of another
agency) and invalid lines in the stream; and it says when a global bound makes the split inexact."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from clets_watch.cli import UserError
from clets_watch.commands import replay
from producers.simulator import generate

GOLDEN = Path(__file__).parents[1] / "golden"


@pytest.fixture(autouse=True)
def _key(settings_env: Callable[..., None]) -> None:
    settings_env(PSEUDONYM_KEY="replay-workers-test-key")


def run(*argv: str) -> str:
    parser = argparse.ArgumentParser(prog="clets-watch")
    replay.register(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    assert replay.run(parser.parse_args(["replay", *argv]), out=out) == 0
    return out.getvalue()


def _shift(line: bytes, seconds: int, **changes: str) -> bytes:
    event = msgspec.json.decode(line)
    when = dt.datetime.fromisoformat(event["occurred_at"]) - dt.timedelta(seconds=seconds)
    event["occurred_at"] = when.isoformat()
    event.update(changes)
    return msgspec.json.encode(event)


@pytest.fixture(scope="module")
def messy_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Simulated traffic of many agencies with every scenario, then disturbed: late events (within and
    beyond the amendment retention), duplicates of the same and of another agency, invalid lines."""
    stream = generate(
        seed=7,
        start=dt.datetime.fromisoformat("2019-06-12T09:00:00-07:00"),
        duration=dt.timedelta(hours=2),
        rate_per_second=1.5,
        scenarios=["raid", "snooping", "silent_agency", "after_hours"],
    )
    base = [msgspec.json.encode(item.event) for item in stream]
    oris = sorted({msgspec.json.decode(b)["ori"] for b in base})
    lines: list[bytes] = []
    for i, line in enumerate(base):
        if i % 211 == 5:
            line = _shift(line, 300)  # late: its window closed, counts amended
        elif i % 503 == 7:
            line = _shift(line, 7200)  # late beyond the amendment retention
        lines.append(line)
        if i % 307 == 11 and i > 60:
            lines.append(lines[-50])  # the same event again
        if i % 401 == 13 and i > 60:
            other = oris[(oris.index(msgspec.json.decode(lines[-30])["ori"]) + 1) % len(oris)]
            lines.append(_shift(lines[-30], -20, ori=other))  # same event id, another agency, later time
        if i % 499 == 17:
            lines.append(b"not json")
            lines.append(b'{"event_id": 5}')
    # one agency's clock runs 10 minutes ahead: the others' next events are late for the whole stream,
    # though not within their own process
    jumper = msgspec.json.decode(base[-1])["ori"]
    for n, line in enumerate(base[-40:-35]):
        lines.append(_shift(line, -600, ori=jumper, event_id=f"jump-{n}"))
    for n, line in enumerate(base[-35:]):
        if msgspec.json.decode(line)["ori"] != jumper:
            lines.append(_shift(line, 0, event_id=f"behind-{n}"))
    path = tmp_path_factory.mktemp("workers") / "messy.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_workers_give_byte_identical_alerts_and_summary(messy_archive: Path) -> None:
    one = run("--input", str(messy_archive), "--json")
    summary = run("--input", str(messy_archive))
    stats = summary.splitlines()[0]
    # the stream exercises what a split could get wrong
    for needle in ("late: 0", "duplicates: 0", "dead letters: 0", "(+0 amendments)"):
        assert needle not in stats, stats
    assert len(one.splitlines()) > 20
    for workers in ("2", "3"):
        assert run("--input", str(messy_archive), "--json", "--workers", workers) == one
        assert run("--input", str(messy_archive), "--workers", workers) == summary


@pytest.mark.parametrize(
    "name", ["flatline", "repeat_subject", "dmv_by_dhs_surge", "new_term", "after_hours_burst"]
)
def test_golden_streams_are_identical_with_workers(name: str) -> None:
    src = str(GOLDEN / f"{name}.jsonl")
    one = run("--input", src, "--json")
    assert one and run("--input", src, "--json", "--workers", "2") == one


def test_recorded_run_is_the_same_with_workers(messy_archive: Path, tmp_path: Path) -> None:
    from sinks.audit import AuditStore

    db = f"sqlite:///{tmp_path / 'audit.db'}"
    a = json.loads(run("--input", str(messy_archive), "--record", "--run-id", "one", "--db", db, "--json"))
    b = json.loads(
        run(
            "--input",
            str(messy_archive),
            "--record",
            "--run-id",
            "two",
            "--db",
            db,
            "--json",
            "--workers",
            "2",
        )
    )
    for varying in ("run_id", "seconds", "events_per_second", "created_at", "started_at", "finished_at"):
        a.pop(varying, None)
        b.pop(varying, None)
    assert a == b
    with AuditStore(db) as store:
        assert store.alert_lines("one") == store.alert_lines("two")
    assert "0 changed" in run("--diff", "one", "two", "--db", db)


def test_a_global_bound_reached_is_reported(
    messy_archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  repeat_subject:\n    params:\n      max_tracked: 5\n")
    run("--input", str(messy_archive), "--json", "--rules", str(rules), "--workers", "2")
    assert "repeat_subject tracked up to" in capsys.readouterr().err
    run("--input", str(messy_archive), "--json", "--workers", "2")
    assert "repeat_subject tracked up to" not in capsys.readouterr().err


def test_workers_must_be_positive(messy_archive: Path) -> None:
    with pytest.raises(UserError, match="--workers must be at least 1"):
        run("--input", str(messy_archive), "--workers", "0")


def test_incidents_and_conflicting_duplicates_are_the_same_with_workers(messy_archive: Path) -> None:
    one = run("--input", str(messy_archive), "--incidents", "--json")
    assert len(one.splitlines()) >= 3
    for workers in ("2", "3"):
        assert run("--input", str(messy_archive), "--incidents", "--json", "--workers", workers) == one
    # the archive reuses event ids in other agencies (other content): conflicting duplicates, processed and
    # dead-lettered by one pipeline, must be so across processes too, never dropped as duplicates
    summary = run("--input", str(messy_archive), "--workers", "2")
    assert summary == run("--input", str(messy_archive)) and "conflicting" in summary, summary.splitlines()[0]


def test_dead_letters_file_and_bad_lines_are_the_same_with_workers(
    messy_archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    capsys.readouterr()
    run("--input", str(messy_archive), "--json", "--dead-letters", str(one))
    err_one = capsys.readouterr().err
    run("--input", str(messy_archive), "--json", "--dead-letters", str(two), "--workers", "2")
    err_two = capsys.readouterr().err
    reasons = {json.loads(line)["reason"] for line in one.read_text().splitlines()}
    assert {"late", "conflicting_duplicate", "malformed_json"} <= reasons, reasons
    assert two.read_bytes() == one.read_bytes()
    bad = [line.split("; all in")[0] for line in err_one.splitlines() if line.startswith("bad input:")]
    assert bad and bad == [
        line.split("; all in")[0] for line in err_two.splitlines() if line.startswith("bad input:")
    ]


def test_the_bad_input_limit_stops_a_pooled_replay_too(tmp_path: Path) -> None:
    source = tmp_path / "mostly-bad.jsonl"
    good = (GOLDEN / "prohibited_query.jsonl").read_text().splitlines()[:5]
    source.write_text("\n".join(good + ["garbage"] * 45) + "\n")
    parser = argparse.ArgumentParser(prog="clets-watch")
    replay.register(parser.add_subparsers(dest="command"))
    for extra in ([], ["--workers", "2"]):
        args = parser.parse_args(["replay", "--input", str(source), "--json", *extra])
        assert replay.run(args, out=io.StringIO()) == 3
