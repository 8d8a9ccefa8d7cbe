"""A replay keeps dead-letter counts, never the dead letters: their payloads (up to 64 KiB a line) went to
--dead-letters as they came, yet every one stayed in memory, so a small .jsonl.gz of bad lines used
gigabytes. Measured with tracemalloc (memory, not time)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

from processors.agencies import AgencyRegistry
from processors.pipeline import Pipeline, PipelineConfig
from processors.policy import Classifier, load_policy
from processors.pseudonymize import Pseudonymizer
from processors.replay import replay_lines

BAD_LINES = 400
LINE_BYTES = 60 * 1024  # under the 64 KiB event limit: each is a malformed_json dead letter with its payload


def _bad_lines() -> Iterator[tuple[bytes, str]]:
    for n in range(BAD_LINES):  # made one at a time: the input itself is never in memory
        yield b'{"event_id": "' + (b"%06d" % n) * (LINE_BYTES // 6), f"bomb.jsonl:{n + 1}"


def test_replay_memory_does_not_grow_with_the_bad_lines() -> None:
    registry = AgencyRegistry.load()
    pipeline = Pipeline(
        Classifier(load_policy(), registry).classify, registry, Pseudonymizer(b"k" * 32), PipelineConfig()
    )
    tracemalloc.start()
    try:
        result = replay_lines(_bad_lines(), pipeline)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    input_bytes = BAD_LINES * LINE_BYTES  # 24 MiB; keeping the payloads would take at least that
    assert peak < input_bytes / 20, f"peak {peak:,} bytes for {input_bytes:,} bytes of bad lines"
    assert result.dead_letters == {"malformed_json": BAD_LINES}
    assert result.stats.dead_letters == BAD_LINES
