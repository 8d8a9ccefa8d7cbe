"""Every reader reads with a bound (issue 13): a huge line never in memory whole, deep nesting and bad
lines are per-line errors, BOM and directories get clear messages; replay names bad lines, writes them with
``--dead-letters`` and exits 3 past the worker's bad-input limit."""

from __future__ import annotations

import argparse
import gzip
import io
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from clets_watch.cli import UserError
from clets_watch.commands import classify as classify_cmd
from clets_watch.commands import replay
from clets_watch.settings import get_settings
from processors.agencies import AgencyRegistry
from processors.lines import BOM, OversizedLine, archive_lines, bounded_lines
from processors.policy import Classifier, load_policy
from processors.replay import ArchiveError, iter_archive
from schemas.events import MAX_EVENT_BYTES
from tests.commands.events import event

EVENT = event()


def line(event_id: str, **extra: object) -> bytes:
    return json.dumps(EVENT | {"event_id": event_id} | extra).encode()


@pytest.fixture(autouse=True)
def _key(settings_env: Callable[..., None], tmp_path: Path) -> None:
    settings_env(PSEUDONYM_KEY="bounded-readers-test-key", HOME=str(tmp_path / "home"))


def huge_gz(path: Path, size: int) -> Path:
    """A .jsonl.gz of one good line, one line of ``size`` bytes, and one more good line (a few MB on disk)."""
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(line("before") + b"\n")
        fh.write(b'{"reason": "')
        chunk = b"x" * (1 << 20)
        for _ in range(size // len(chunk)):
            fh.write(chunk)
        fh.write(b'"}\n')
        fh.write(line("after") + b"\n")
    return path


def test_a_100_mb_line_costs_the_event_limit_not_its_size(tmp_path: Path) -> None:
    archive = huge_gz(tmp_path / "huge.jsonl.gz", 100 << 20)
    tracemalloc.start()
    try:
        lines = [(n, len(raw), getattr(raw, "size", None)) for n, raw in archive_lines(archive)]
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [n for n, _, _ in lines] == [1, 2, 3]
    assert lines[1][1] == MAX_EVENT_BYTES + 1 and lines[1][2] == (100 << 20) + 14
    assert peak < 4 * MAX_EVENT_BYTES + (1 << 20), f"peak {peak} bytes while reading a 100 MB line"


def test_replay_dead_letters_the_huge_line_as_too_large_and_goes_on(tmp_path: Path) -> None:
    archive = huge_gz(tmp_path / "huge.jsonl.gz", 8 << 20)
    out = io.StringIO()
    dead = tmp_path / "dead.jsonl"
    code = replay.run(parse_replay("--input", str(archive), "--dead-letters", str(dead)), out=out)
    assert code == 0
    assert "events: 2" in out.getvalue()
    [letter] = [json.loads(x) for x in dead.read_text().splitlines()]
    assert letter["reason"] == "too_large" and letter["source"] == "huge.jsonl.gz:2"
    assert f"{(8 << 20) + 14} bytes" in letter["detail"]


def test_bom_at_the_start_is_dropped_and_blank_lines_keep_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(BOM + line("a") + b"\n\n" + line("b") + b"\r\n")
    assert [(n, raw[:20]) for n, raw in archive_lines(path)] == [(1, line("a")[:20]), (3, line("b")[:20])]


def test_a_directory_or_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="is a directory: give a .jsonl or .jsonl.gz file"):
        list(iter_archive(tmp_path))
    with pytest.raises(UserError, match="is a directory"):
        replay.run(parse_replay("--input", str(tmp_path)), out=io.StringIO())
    with pytest.raises(ArchiveError, match="does not exist"):
        list(iter_archive(tmp_path / "nope.jsonl"))


def test_bounded_lines_oversized_line_without_newline_at_the_end() -> None:
    data = line("a") + b"\n" + b"y" * (MAX_EVENT_BYTES + 10)
    got = list(bounded_lines(io.BytesIO(data)))
    assert isinstance(got[1][1], OversizedLine) and got[1][1].size == MAX_EVENT_BYTES + 10


def test_classify_survives_deep_nesting_and_a_huge_line_and_goes_on() -> None:
    clf = Classifier(load_policy(), AgencyRegistry.load())
    deep = b"[" * 1500 + b"]" * 1500
    nested_extra = line("n1")[:-1] + b', "x": ' + deep + b"}"
    source = io.BytesIO(
        b"\n".join([line("a"), deep, nested_extra, b"z" * (MAX_EVENT_BYTES * 3), line("b")]) + b"\n"
    )
    out = io.StringIO()
    assert classify_cmd.classify_stream(clf, source, out) == 0
    rows = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [r.get("reason") if r["verdict"] == "error" else r["event_id"] for r in rows] == [
        "a",
        "too_deep",
        "too_deep",
        "too_large",
        "b",
    ]
    assert [r.get("line") for r in rows if r["verdict"] == "error"] == [2, 3, 4]


# ---------------------------------------------------------------------------------------- replay


def parse_replay(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="clets-watch")
    replay.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["replay", *argv])


def test_replay_names_bad_lines_and_writes_dead_letters_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "mixed.jsonl"
    archive.write_bytes(b"\n".join([line("a"), b"garbage", line("b"), line("c", ori="bad")]) + b"\n")
    dead = tmp_path / "dead.jsonl"
    assert (
        replay.run(parse_replay("--input", str(archive), "--dead-letters", str(dead)), out=io.StringIO()) == 0
    )
    letters = [json.loads(x) for x in dead.read_text().splitlines()]
    assert [(d["source"], d["reason"]) for d in letters] == [
        ("mixed.jsonl:2", "malformed_json"),
        ("mixed.jsonl:4", "invalid_ori"),
    ]
    assert letters[0]["payload"] == "garbage"
    err = capsys.readouterr().err
    assert "bad input: 2 line(s): mixed.jsonl:2 (malformed_json), mixed.jsonl:4 (invalid_ori)" in err


def test_replay_exits_3_past_the_workers_bad_input_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "mostly-bad.jsonl"
    rows = [line(f"g{i}") if i % 7 == 0 else b"not json %d" % i for i in range(35)]
    archive.write_bytes(b"\n".join(rows) + b"\n")
    out = io.StringIO()
    assert replay.run(parse_replay("--input", str(archive)), out=out) == 3
    assert "events: 5" in out.getvalue()  # the results are still printed
    err = capsys.readouterr().err
    assert "30 of 35 lines were bad input" in err and "mostly-bad.jsonl:2 (malformed_json)" in err


def test_replay_exits_3_when_the_window_fills_with_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLETS_WATCH_DEAD_LETTER_WINDOW", "100")
    get_settings.cache_clear()
    archive = tmp_path / "long.jsonl"
    good = [line(f"g{i}") for i in range(400)]
    archive.write_bytes(b"\n".join(good + [b"bad"] * 600 + good[:1]) + b"\n")
    assert replay.run(parse_replay("--input", str(archive)), out=io.StringIO()) == 3


def test_replay_of_a_clean_archive_exits_0(tmp_path: Path) -> None:
    archive = tmp_path / "clean.jsonl"
    archive.write_bytes(b"\n".join(line(f"g{i}") for i in range(20)) + b"\n")
    assert replay.run(parse_replay("--input", str(archive)), out=io.StringIO()) == 0


# ---------------------------------------------------------------------------------------- dead-letter re-drive


def test_a_dead_letter_record_nested_deep_is_unreadable_not_a_traceback() -> None:
    from clets_watch.commands.dead_letter import PROCESSED_REASONS, parse_dead_letter

    record = parse_dead_letter(0, 7, b"[" * 5000 + b"]" * 5000)
    assert record.reason == "unreadable" and record.offset == 7
    ok = parse_dead_letter(0, 8, json.dumps({"reason": "conflicting_duplicate", "payload": "{}"}).encode())
    assert ok.reason in PROCESSED_REASONS  # processed already: not re-driven by default


def test_classify_gives_review_for_an_unknown_message_key_as_the_pipeline_does() -> None:
    clf = Classifier(load_policy(), AgencyRegistry.load())
    out = io.StringIO()
    classify_cmd.classify_stream(
        clf, io.BytesIO(line("u1", message_type="ZZQ") + b"\n" + line("k1") + b"\n"), out
    )
    unknown, known = [json.loads(x) for x in out.getvalue().splitlines()]
    assert unknown["verdict"] == "review" and "INPUT.unknown-message-key" in unknown["rules"]
    assert "INPUT.unknown-message-key" not in known["rules"]
