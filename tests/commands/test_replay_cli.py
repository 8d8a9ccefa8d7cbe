"""``clets-watch replay``: archives in, alerts out, byte-identical across runs, clear errors."""

from __future__ import annotations

import argparse
import gzip
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from clets_watch.cli import UserError
from clets_watch.commands import replay

GOLDEN = Path(__file__).parents[1] / "golden"


@pytest.fixture(autouse=True)
def _key(settings_env: Callable[..., None]) -> None:
    settings_env(PSEUDONYM_KEY="replay-cli-test-key")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="clets-watch")
    replay.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["replay", *argv])


def run(*argv: str) -> str:
    out = io.StringIO()
    assert replay.run(parse(*argv), out=out) == 0
    return out.getvalue()


def test_json_lines_are_sorted_complete_and_byte_identical(tmp_path: Path) -> None:
    a = GOLDEN / "prohibited_query.jsonl"
    b = GOLDEN / "dmv_by_dhs_surge.jsonl"
    first = run("--input", str(a), "--input", str(b), "--json")
    assert first == run("--input", str(a), "--input", str(b), "--json")
    alerts = [json.loads(line) for line in first.splitlines()]
    assert {x["rule"] for x in alerts} >= {"prohibited_query", "dmv_by_dhs_surge"}
    for x in alerts:
        assert {"alert_id", "rule", "ori", "window_start", "window_end", "severity", "evidence"} <= set(x)
        assert list(x) == sorted(x)
    starts = [(x["window_start"], x["rule"]) for x in alerts]
    assert starts == sorted(starts)
    surge = next(x for x in alerts if x["rule"] == "dmv_by_dhs_surge")
    assert surge["evidence"]["count"] == 24 and surge["evidence"]["offsets"][0].startswith(
        "dmv_by_dhs_surge.jsonl:"
    )


def test_gzip_archive_gives_the_same_alerts(tmp_path: Path) -> None:
    src = GOLDEN / "cardinality.jsonl"
    gz = tmp_path / "cardinality.jsonl.gz"
    with src.open("rb") as fin, gzip.open(gz, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    plain = [json.loads(x)["alert_id"] for x in run("--input", str(src), "--json").splitlines()]
    packed = [json.loads(x)["alert_id"] for x in run("--input", str(gz), "--json").splitlines()]
    assert plain == packed and len(plain) == 1


def test_summary_is_readable(tmp_path: Path) -> None:
    bad = tmp_path / "mixed.jsonl"
    bad.write_text((GOLDEN / "prohibited_query.jsonl").read_text() + "not json\n")
    text = run("--input", str(bad))
    assert "events: 11" in text and "dead letters: 1" in text
    assert "malformed_json 1" in text
    assert "prohibited_query" in text and "critical" in text
    assert "access recommendations:" in text and "suspend direct access; written requests only" in text


def test_missing_input_and_bad_rules_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        replay.run(parse("--input", str(tmp_path / "nope.jsonl")))
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  no_such_rule: {}\n")
    with pytest.raises(UserError, match="unknown rule"):
        replay.run(parse("--input", str(GOLDEN / "cardinality.jsonl"), "--rules", str(rules)))
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(UserError, match="cannot read archive"):
        replay.run(parse("--input", str(broken)), out=io.StringIO())


def test_progress_bar_and_recorded_run_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'audit.db'}"
    src = str(GOLDEN / "prohibited_query.jsonl")
    summary = json.loads(
        run("--input", src, "--record", "--run-id", "golden", "--db", db, "--json", "--progress")
    )
    err = capsys.readouterr().err
    assert "events/s" in err and "ETA" in err and "100.0%" in err
    assert summary["run_id"] == "golden" and summary["counts"]["events"] == 11
    assert summary["counts"]["alerts_by_rule"]["prohibited_query"] >= 1 and summary["events_per_second"] > 0
    lines = run("--input", src, "--json")
    from sinks.audit import AuditStore

    with AuditStore(db) as store:
        assert "\n".join(store.alert_lines("golden")) + "\n" == lines
    assert "golden" in run("--list-runs", "--db", db)
