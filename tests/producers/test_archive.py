"""Archives: compact JSON lines (plain or gzip), the truth sidecar beside them, atomic writes."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import msgspec
import pytest

from producers.archive import (
    ArchiveError,
    ArchiveWriter,
    TruthWriter,
    iter_lines,
    read_events,
    read_labelled,
    read_truth,
    truth_path,
    write_archive,
)
from producers.simulator import LabelledEvent, generate
from schemas.events import decode_event

START = dt.datetime(2019, 3, 5, 5, 0, tzinfo=dt.timezone(dt.timedelta(hours=-8)))


def sample(seed: int = 1) -> list[LabelledEvent]:
    return list(
        generate(
            seed=seed,
            start=START,
            duration=dt.timedelta(hours=1),
            rate_per_second=0.5,
            scenarios=["raid", "after_hours"],
        )
    )


def test_truth_path_names() -> None:
    assert truth_path("out/run.jsonl.gz") == Path("out/run.truth.jsonl.gz")
    assert truth_path("run.jsonl") == Path("run.truth.jsonl")
    assert truth_path("run.json") == Path("run.truth.jsonl")
    assert truth_path("run") == Path("run.truth.jsonl")


@pytest.mark.parametrize("name", ["run.jsonl.gz", "run.jsonl"])
def test_round_trip_events_and_truth(tmp_path: Path, name: str) -> None:
    items = sample()
    stats = write_archive(tmp_path / name, items)
    assert stats.events == len(items) > 100
    assert stats.truth_path == tmp_path / truth_path(name)
    assert stats.truth_path.exists()
    assert list(read_events(tmp_path / name)) == [x.event for x in items]
    assert list(read_truth(tmp_path / name)) == [x.truth for x in items]
    assert list(read_labelled(tmp_path / name)) == items
    # gzip detected from the content, not only from the name
    raw = (tmp_path / name).read_bytes()
    assert raw[:2] == b"\x1f\x8b" if name.endswith(".gz") else raw.startswith(b'{"schema_version":1,')


def test_lines_are_compact_v1_events_without_truth(tmp_path: Path) -> None:
    items = sample()
    write_archive(tmp_path / "run.jsonl.gz", items)
    lines = list(iter_lines(tmp_path / "run.jsonl.gz"))
    assert len(lines) == len(items)
    for line, item in zip(lines, items):
        assert (
            line == json.dumps(json.loads(line), separators=(",", ":"), ensure_ascii=False).encode()
        )  # compact
        event = decode_event(line)
        assert event.event_id == item.event_id
        assert b'"verdict"' not in line and b'"intent"' not in line and b'"scenario"' not in line


def test_truth_sidecar_matches_events_by_id(tmp_path: Path) -> None:
    write_archive(tmp_path / "run.jsonl.gz", sample(seed=9))
    events = {e["event_id"] for e in read_events(tmp_path / "run.jsonl.gz")}
    truth = list(read_truth(tmp_path / "run.truth.jsonl.gz"))
    assert {t["event_id"] for t in truth} == events
    assert {t["scenario"] for t in truth} == {"background", "raid", "after_hours"}


def test_no_truth_writes_the_archive_alone(tmp_path: Path) -> None:
    stats = write_archive(tmp_path / "run.jsonl", sample(), truth=False)
    assert stats.truth_path is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.jsonl"]
    with pytest.raises(ArchiveError, match="no ground truth beside"):
        list(read_truth(tmp_path / "run.jsonl"))


def test_failed_write_leaves_no_files(tmp_path: Path) -> None:
    def broken() -> object:
        yield from sample()[:10]
        raise RuntimeError("simulator crashed")

    with pytest.raises(RuntimeError, match="crashed"):
        write_archive(tmp_path / "run.jsonl.gz", broken())  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_writer_context_manager(tmp_path: Path) -> None:
    items = sample()
    with ArchiveWriter(tmp_path / "a.jsonl.gz") as writer:
        for item in items:
            writer.write(item)
    assert writer.stats.events == len(items)
    assert sum(1 for _ in read_events(tmp_path / "a.jsonl.gz")) == len(items)


def test_truth_writer_alone(tmp_path: Path) -> None:
    items = sample()
    tw = TruthWriter(tmp_path / "sent.truth.jsonl.gz")
    for item in items:
        tw.write(item)
    tw.close()
    assert list(read_truth(tmp_path / "sent.truth.jsonl.gz")) == [x.truth for x in items]


def test_same_seed_same_archive_bytes(tmp_path: Path) -> None:
    write_archive(tmp_path / "a.jsonl.gz", sample(seed=4))
    write_archive(tmp_path / "b.jsonl.gz", sample(seed=4))
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()


def test_mismatched_sidecar_is_reported(tmp_path: Path) -> None:
    items = sample()
    write_archive(tmp_path / "run.jsonl", items)
    lines = (tmp_path / "run.truth.jsonl").read_bytes().splitlines()
    (tmp_path / "run.truth.jsonl").write_bytes(b"\n".join(lines[:-1]) + b"\n")
    with pytest.raises(ArchiveError, match="different numbers of lines"):
        list(read_labelled(tmp_path / "run.jsonl"))
    (tmp_path / "run.truth.jsonl").write_bytes(b"\n".join([lines[1], lines[0], *lines[2:]]) + b"\n")
    with pytest.raises(ArchiveError, match="line 1: event"):
        list(read_labelled(tmp_path / "run.jsonl"))


def test_bad_lines_and_missing_files_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"schema_version":1}\n\nnot json\n')
    with pytest.raises(ArchiveError, match="line 2: not a JSON object"):  # blank lines are skipped
        list(read_events(bad))
    with pytest.raises(ArchiveError, match="cannot read archive"):
        list(read_events(tmp_path / "missing.jsonl"))
    truncated = tmp_path / "cut.jsonl.gz"
    truncated.write_bytes(gzip.compress(msgspec.json.encode({"a": 1}) * 1000)[:50])
    with pytest.raises(ArchiveError, match="damaged"):
        list(iter_lines(truncated))
