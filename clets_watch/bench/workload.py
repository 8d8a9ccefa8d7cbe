"""The bench's events: the seeded simulator (background at the statewide average rate, plus a raid), the
same events for every stage; produced once to a bench topic, or written once to a cached archive."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from producers.simulator import LabelledEvent, generate

START: Final = dt.datetime.fromisoformat("2019-06-12T05:00:00-07:00")
STATEWIDE_RATE: Final = 32.0  # 2.8 million queries a day
SCENARIOS: Final = ("raid",)


def events(seed: int, count: int) -> Iterator[LabelledEvent]:
    """``count`` simulated events (arrival order), deterministic for ``seed``; constant memory."""
    seconds = count / STATEWIDE_RATE * 1.1 + 3600
    stream = generate(
        seed=seed,
        start=START,
        duration=dt.timedelta(seconds=seconds),
        rate_per_second=STATEWIDE_RATE,
        scenarios=list(SCENARIOS),
    )
    return itertools.islice(stream, count)


def bench_topic(kind: str) -> str:
    return f"clets-bench.{kind}.{uuid.uuid4().hex[:8]}"


def archive(cache_dir: Path, seed: int, count: int) -> Path:
    """A .jsonl.gz archive of ``events(seed, count)``, written once and reused (same seed, same bytes)."""
    from producers.archive import write_archive

    path = cache_dir / f"archive-seed{seed}-{count}.jsonl.gz"
    if not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        write_archive(path, events(seed, count), truth=False)
    return path
