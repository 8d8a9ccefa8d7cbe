"""The pieces of ``replay --workers``: agencies assigned whole and balanced; the front's duplicates."""

from __future__ import annotations

import msgspec

from processors.pipeline import PipelineConfig
from processors.replay_pool import AgencyRouter, Sequencer


def test_an_agency_stays_with_its_process_and_big_agencies_are_spread() -> None:
    route = AgencyRouter(2)
    stream = ["BIG1"] * 5 + ["BIG2"] * 5 + ["BIG1", "BIG2"] * 100 + ["small"] * 3
    assigned: dict[str, int] = {}
    for ori in stream:
        i = route(ori)
        assert assigned.setdefault(ori, i) == i
    assert assigned["BIG1"] != assigned["BIG2"]
    assert sorted(route.load) == [105, 108]


def _event(event_id: str, ori: str, when: str) -> bytes:
    return msgspec.json.encode(
        {
            "schema_version": 1,
            "event_id": event_id,
            "occurred_at": when,
            "ori": ori,
            "operator_id": "OP1",
            "terminal_id": "T1",
            "message_type": "QW",
            "message_key": "QW",
            "purpose_code": "C",
            "reason": "case 1",
            "case_number": "1",
        }
    )


def test_the_front_drops_exact_duplicates_passes_conflicting_ones_and_skips_invalid_lines() -> None:
    seq = Sequencer(PipelineConfig())
    first = _event("e1", "CA0190000", "2019-06-12T12:00:00Z")
    assert seq.accept(first) == "CA0190000" and seq.last_seen is None
    assert seq.accept(b"not json") is None and not seq.last_duplicate
    assert seq.accept(first) is None and seq.last_duplicate  # the same content again: dropped
    # the same id with other content (another agency): a query of its own, never hidden; its process is
    # told the earlier version's digest so that it dead-letters it as one pipeline would
    assert seq.accept(_event("e1", "CA0349400", "2019-06-12T12:00:05Z")) == "CA0349400"
    assert not seq.last_duplicate and seq.last_seen is not None and seq.last_seen[0] == "e1"
    assert seq.accept(_event("e1", "CA0349400", "2019-06-12T12:00:05Z")) is None and seq.last_duplicate
    assert seq.duplicates == 2
    assert seq.max_event_us is not None
