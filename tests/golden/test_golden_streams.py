"""Golden streams: each small archive replayed with the real classifier must produce exactly the
alerts in its ``.expected.json`` (same ids, rules, windows, evidence), whatever the line order
within the allowed lateness."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest

from tests.golden.make_golden import HERE, STREAMS, replay_alerts


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_stream_produces_expected_alerts(name: str) -> None:
    expected = json.loads((HERE / f"{name}.expected.json").read_text())
    assert expected, "a golden stream must produce at least one alert"
    assert {a["rule"] for a in expected} == {name}  # the stream exercises its own rule and no other
    assert replay_alerts(HERE / f"{name}.jsonl") == expected


@pytest.mark.parametrize("name", ["dmv_by_dhs_surge", "flatline", "new_term", "prohibited_query"])
def test_stream_shuffled_within_lateness_gives_same_alerts(name: str, tmp_path: Path) -> None:
    lines = (HERE / f"{name}.jsonl").read_text().splitlines()
    rnd = random.Random(7)
    # chunks of up to 5 neighbours spanning < 60 s, so any order within a chunk is within the 120 s lateness
    chunks: list[list[str]] = []
    chunk_start = None
    for line in lines:
        at = dt.datetime.fromisoformat(json.loads(line)["occurred_at"])
        if (
            not chunks
            or len(chunks[-1]) == 5
            or chunk_start is None
            or (at - chunk_start).total_seconds() >= 60
        ):
            chunks.append([])
            chunk_start = at
        chunks[-1].append(line)
    for chunk in chunks:
        rnd.shuffle(chunk)
    shuffled = tmp_path / f"{name}.jsonl"
    shuffled.write_text("\n".join(line for chunk in chunks for line in chunk) + "\n")
    expected = json.loads((HERE / f"{name}.expected.json").read_text())
    got = replay_alerts(shuffled)
    assert [a["alert_id"] for a in got] == [a["alert_id"] for a in expected]
