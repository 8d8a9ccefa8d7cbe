"""A seeded fuzzer of malformed query events, each with the dead-letter reason it must get."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping
from typing import Any

BAD_ORIS = ("CA01", "ca0190000", "CA019000000", "CA-190000", "", "Ω23456789", "123456789")


def malformed(rng: random.Random, good: Mapping[str, Any]) -> tuple[bytes, str]:
    """One malformed message derived from a good event, and the reason it must be dead-lettered with."""
    kind = rng.randrange(11)
    event = dict(good)
    event["event_id"] = f"fuzz-{rng.getrandbits(48):012x}"
    if kind == 0:  # truncated JSON
        raw = json.dumps(event).encode()
        return raw[: rng.randrange(1, len(raw) - 1)], "malformed_json"
    if kind == 1:  # invalid UTF-8 inside a string
        raw = json.dumps(event).encode()
        at = raw.index(b'"reason": "') + len(b'"reason": "')
        return raw[:at] + bytes([rng.choice([0xFF, 0xFE, 0xC3, 0x80])]) + raw[at:], "invalid_utf8"
    if kind == 2:  # unknown schema version
        event["schema_version"] = rng.choice([0, 2, 3, 99, -1])
        return json.dumps(event).encode(), "unknown_schema_version"
    if kind == 3:  # wrong types
        field = rng.choice(["event_id", "ori", "operator_id", "terminal_id", "message_type", "reason"])
        event[field] = rng.choice([17, 3.5, True, ["x"], {"a": 1}])
        return json.dumps(event).encode(), "wrong_type"
    if kind == 4:  # a malformed ORI
        event["ori"] = rng.choice(BAD_ORIS)
        return json.dumps(event).encode(), "invalid_ori"
    if kind == 5:  # a huge field
        event["reason"] = "x" * rng.randrange(70_000, 200_000)
        return json.dumps(event).encode(), "too_large"
    if kind == 6:  # far in the past: before CLETS could have seen it
        event["occurred_at"] = f"{rng.randrange(1900, 1989)}-03-01T10:00:00Z"
        return json.dumps(event).encode(), "invalid_time"
    if kind == 7:  # far in the future of when it was written
        event["occurred_at"] = f"{rng.randrange(2030, 2099)}-06-01T10:00:00Z"
        return json.dumps(event).encode(), "invalid_time"
    if kind == 8:  # no time zone, or not a time
        event["occurred_at"] = rng.choice(["2019-06-12T05:00:00", "yesterday", "2019-13-45T99:00:00Z", ""])
        return json.dumps(event).encode(), "invalid_time"
    if kind == 9:  # a required field missing
        event.pop(rng.choice(["event_id", "occurred_at", "ori", "operator_id", "message_type", "reason"]))
        return json.dumps(event).encode(), "missing_field"
    return rng.choice([b"", b"null", b"[]", b"42", b'"a string"', b"\x00\x01\x02"]), NOT_AN_EVENT


NOT_AN_EVENT = "*not-an-event*"  # empty, a JSON scalar or an array: malformed_json or not_an_object
NOT_AN_EVENT_REASONS = frozenset({"malformed_json", "not_an_object"})


def noisy_stream(
    rng: random.Random, good: list[bytes], *, bad: int, duplicates: int
) -> Iterator[tuple[bytes, str | None]]:
    """The good events, ``bad`` malformed messages and ``duplicates`` exact copies, interleaved.

    Yields (raw, expected reason or None for a message that must be processed or dropped as a duplicate).
    Good events keep their order; the noise is spread through them at random.
    """
    decoded = [json.loads(g) for g in good]
    noise: list[tuple[bytes, str | None]] = [malformed(rng, rng.choice(decoded)) for _ in range(bad)]
    positions = sorted(rng.randrange(len(good)) for _ in range(duplicates))
    dup_at: dict[int, int] = {}
    for p in positions:
        dup_at[p] = dup_at.get(p, 0) + 1
    per_gap = [0] * (len(good) + 1)
    for _ in noise:
        per_gap[rng.randrange(len(good) + 1)] += 1
    it = iter(noise)
    for i, raw in enumerate(good):
        for _ in range(per_gap[i]):
            yield next(it)
        yield raw, None
        for _ in range(dup_at.get(i, 0)):
            yield raw, None  # the same event again: processed once
    for _ in range(per_gap[len(good)]):
        yield next(it)
