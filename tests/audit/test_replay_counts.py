"""Replay speed: events/s of a recorded replay against the bare JSON parse of the same archive.

The numbers are printed (``pytest -s``) and written to ``.clets-watch/bench/replay-speed.json``; docs/audit.md
reports them. The assertions are sanity bounds, not a performance target.
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import msgspec

from processors.replay import iter_archive, tally_stream

from .conftest import RecordedYear


def test_replay_speed_against_the_bare_json_parse(recorded_year: RecordedYear, project_root: Path) -> None:
    import argparse

    from clets_watch.commands.replay import build_pipeline

    args = argparse.Namespace(
        agencies=None, policy=None, rules=None, window_seconds=None, allowed_lateness=None
    )
    archive = recorded_year.archive
    started = time.perf_counter()
    with gzip.open(archive, "rb") as fh:
        parsed = sum(1 for line in fh if msgspec.json.decode(line))
    parse_s = time.perf_counter() - started
    pipeline = build_pipeline(args)
    started = time.perf_counter()
    tally = tally_stream(iter_archive(archive), pipeline)
    replay_s = time.perf_counter() - started
    assert tally.stats.events == parsed > 10_000
    numbers = {
        "events": parsed,
        "bare_parse_events_per_s": round(parsed / parse_s),
        "replay_events_per_s": round(parsed / replay_s),
        "replay_vs_parse": round(parse_s / replay_s, 4),
    }
    print(f"\nreplay speed: {json.dumps(numbers)}")
    out = project_root / ".clets-watch" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "replay-speed.json").write_text(json.dumps(numbers, indent=2) + "\n")
    assert numbers["bare_parse_events_per_s"] > numbers["replay_events_per_s"] > 200
