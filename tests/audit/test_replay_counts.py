"""An audit replay of a recorded year reads every archive line once and counts every event once, the same
counts as ``replay --record`` stored. Its speed is not asserted here: ``clets-watch bench``
measures it (stage 5, ``clets_watch/bench/replay.py``: the replay's events/s against the bare JSON parse of
the same archive, written to BENCH_RESULTS.json)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from sqlalchemy import create_engine, func, select

from processors.replay import iter_archive, tally_stream
from sinks.models import AuditVerdictCount

from .conftest import RecordedYear


def test_an_audit_replay_reads_each_line_once_and_counts_each_event_once(
    recorded_year: RecordedYear,
) -> None:
    from clets_watch.commands.replay import build_pipeline

    args = argparse.Namespace(
        agencies=None, policy=None, rules=None, window_seconds=None, allowed_lateness=None
    )
    lines = sum(1 for _ in iter_archive(recorded_year.archive))
    read = 0

    def counted() -> Iterator[tuple[bytes, str]]:
        nonlocal read
        for item in iter_archive(recorded_year.archive):
            read += 1
            yield item

    pipeline = build_pipeline(args)
    tally = tally_stream(counted(), pipeline)

    assert read == lines == tally.stats.events > 10_000  # one pass over the archive, every line an event
    assert tally.stats.dead_letters == sum(tally.dead_letters.values())
    counted_events = sum(tally.counts.values())
    assert counted_events == lines - tally.stats.duplicates - sum(
        n for reason, n in tally.dead_letters.items() if reason != "late"
    )
    # the same counts as `replay --record` stored for this archive
    engine = create_engine(recorded_year.db_url)
    try:
        with engine.connect() as conn:
            stored = conn.scalar(
                select(func.sum(AuditVerdictCount.queries)).where(
                    AuditVerdictCount.run_id == recorded_year.run_id
                )
            )
    finally:
        engine.dispose()
    assert stored == counted_events
    assert {key[0] for key in tally.counts} == {f"2018-{m:02d}" for m in range(1, 13)}
