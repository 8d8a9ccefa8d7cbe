"""State written with a format number (the pipeline's snapshot, the incident tracker's state): read back only
when it decodes and its format is the one this build writes."""

from __future__ import annotations

from typing import Protocol, TypeVar

import msgspec


class HasFormat(Protocol):
    format: int


S = TypeVar("S", bound=HasFormat)


def decode_versioned(data: bytes, kind: type[S], expected: int, what: str, error: type[Exception]) -> S:
    """``data`` as a ``kind``; ``error`` naming ``what`` when it cannot be read or has another format."""
    try:
        state = msgspec.msgpack.decode(data, type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise error(f"cannot read {what}: {exc}") from exc
    if state.format != expected:
        raise error(f"{what} format {state.format} is not {expected}")
    return state
