"""Property (issue 13): random corruptions of valid events never raise out of the pipeline and never change
the verdicts of the events left untouched."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clets_watch.settings import Settings
from processors.build import BuiltPipeline, PipelineOverrides, build_pipeline
from producers.simulator import generate
from schemas import QueryEvent

FIELDS: tuple[str, ...] = QueryEvent.__struct_fields__  # every field of a query event
NASTY_VALUES: tuple[Any, ...] = (
    None,
    0,
    -1,
    2**70,
    1.5,
    True,
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\u0085",
    "x" * 300,
    [],
    {},
    [[[[1]]]],
    {"name": "\x00"},
    "9999-12-31T23:59:59Z",
    "2019-06-12T05:00:00",
    "not a time",
    "CA019000\x00",
    "ZZQ",
    "Q",
    "\u202e\u200b",
    "'; DROP TABLE query_verdicts; --",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltPipeline:
    home = tmp_path_factory.mktemp("corruption")
    return build_pipeline(Settings(home=home), PipelineOverrides(pseudonym_key=b"corruption-property-key"))


@pytest.fixture(scope="module")
def stream() -> list[dict[str, Any]]:
    start = dt.datetime(2019, 6, 12, 5, 0, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    items = generate(
        seed=13, start=start, duration=dt.timedelta(minutes=6), rate_per_second=0.15, scenarios=["raid"]
    )
    return [dict(item.event) for item in items]


def corrupt(event: dict[str, Any], kind: int, draw: Any, others: list[dict[str, Any]]) -> bytes:
    """One corruption of one event's bytes."""
    raw = json.dumps(event).encode()
    if kind == 0:  # truncate
        return raw[: draw(st.integers(0, max(len(raw) - 1, 0)))]
    if kind == 1:  # flip one byte
        i = draw(st.integers(0, len(raw) - 1))
        return raw[:i] + bytes([raw[i] ^ draw(st.integers(1, 255))]) + raw[i + 1 :]
    if kind == 2:  # a nasty value in a field
        bad = dict(event)
        bad[draw(st.sampled_from(FIELDS))] = draw(st.sampled_from(NASTY_VALUES))
        return json.dumps(bad).encode("utf-8", "surrogatepass")
    if kind == 3:  # drop a field
        bad = dict(event)
        bad.pop(draw(st.sampled_from(FIELDS)), None)
        return json.dumps(bad).encode()
    if kind == 4:  # random bytes
        return bytes(draw(st.binary(max_size=200)))
    if kind == 5:  # deep nesting in an extra field
        return raw[:-1] + b', "x": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    if kind == 6:  # another event's id with this event's (other) content
        bad = dict(event)
        bad["event_id"] = draw(st.sampled_from(others))["event_id"]
        return json.dumps(bad).encode()
    # kind 7: an oversized line
    return raw[:-1] + b', "pad": "' + b"p" * (70 * 1024) + b'"}'


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corruptions_never_raise_and_never_change_untouched_verdicts(
    built: BuiltPipeline, stream: list[dict[str, Any]], data: st.DataObject
) -> None:
    baseline = built.new()
    expected = {}
    for event in stream:
        r = baseline.process_raw(json.dumps(event).encode())
        assert r.processed is not None
        expected[event["event_id"]] = (r.processed.verdict, r.processed.purpose, r.processed.rules)

    touched = data.draw(st.sets(st.integers(0, len(stream) - 1), min_size=1, max_size=len(stream) // 3))
    raws: list[tuple[bytes, str | None]] = []
    for i, event in enumerate(stream):
        if i in touched:
            kind = data.draw(st.integers(0, 7))
            raws.append((corrupt(event, kind, data.draw, stream), None))
            if data.draw(st.booleans()):  # and sometimes the untouched original too, later
                continue
        else:
            raws.append((json.dumps(event).encode(), event["event_id"]))
    pipeline = built.new()
    got: dict[str, tuple[Any, ...]] = {}
    for raw, untouched_id in raws:
        result = pipeline.process_raw(raw, source="t/0/0")  # must never raise
        if untouched_id is not None:
            assert result.processed is not None or result.duplicate, (untouched_id, result.dead_letters)
            if result.processed is not None:
                got[untouched_id] = (
                    result.processed.verdict,
                    result.processed.purpose,
                    result.processed.rules,
                )
    pipeline.close()
    for event_id, verdict in got.items():
        assert verdict == expected[event_id], event_id


def test_the_stream_has_every_verdict(
    stream: list[dict[str, Any]], built: BuiltPipeline, tmp_path: Path
) -> None:
    p = built.new()
    verdicts = {p.process_raw(json.dumps(e).encode()).processed.verdict for e in stream}  # type: ignore[union-attr]
    assert {"allowed", "prohibited"} <= verdicts and len(stream) > 30
