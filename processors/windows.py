"""Event-time windows: tumbling and hopping windows per key, closed by the watermark only.

Times are integer epoch seconds (window bounds) and integer epoch microseconds (event times and
the watermark), so window assignment is exact and the same on every machine.

* ``WindowSpec`` says which windows an event time belongs to (tumbling: one; hopping: size/step).
* ``Watermark`` is ``max event time seen - allowed lateness``; it never moves back.
* ``WindowStore`` holds per-key state for the open windows of one spec, hands out the windows
  the watermark closes (each exactly once, oldest first) and remembers where it closed up to,
  so an event whose window is already closed is recognised as late.

Nothing here reads a clock: only event times move windows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US: Final = dt.timedelta(microseconds=1)
US_PER_S: Final = 1_000_000

S = TypeVar("S")


def to_us(t: dt.datetime) -> int:
    """Epoch microseconds of an aware datetime (exact, no float rounding)."""
    if t.tzinfo is None:
        raise ValueError(f"event time {t.isoformat()} has no UTC offset")
    return (t - EPOCH) // _US


def from_us(us: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=us)


def from_s(seconds: int) -> dt.datetime:
    return EPOCH + dt.timedelta(seconds=seconds)


def rfc3339(seconds: int) -> str:
    """Window bound as RFC 3339 UTC text, e.g. ``2024-05-01T12:00:00Z``."""
    return from_s(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """A window shape. ``step_seconds`` None (or equal to the size) is a tumbling window."""

    size_seconds: int
    step_seconds: int | None = None

    def __post_init__(self) -> None:
        if self.size_seconds <= 0:
            raise ValueError(f"window size must be positive, got {self.size_seconds}")
        step = self.step
        if step <= 0 or step > self.size_seconds:
            raise ValueError(f"window step must be in 1..{self.size_seconds}, got {step}")
        if self.size_seconds % step:
            raise ValueError(f"window size {self.size_seconds} must be a multiple of its step {step}")

    @property
    def step(self) -> int:
        return self.step_seconds if self.step_seconds is not None else self.size_seconds

    @property
    def is_tumbling(self) -> bool:
        return self.step == self.size_seconds

    @property
    def kind(self) -> str:
        if self.is_tumbling:
            return f"tumbling-{self.size_seconds}s"
        return f"hopping-{self.size_seconds}s-{self.step}s"

    def starts_for(self, ts_us: int) -> list[int]:
        """Starts (epoch seconds) of every window holding event time ``ts_us``, oldest first."""
        sec = ts_us // US_PER_S
        last = sec - sec % self.step
        first = last - self.size_seconds + self.step
        return list(range(first, last + 1, self.step))

    def end(self, start: int) -> int:
        return start + self.size_seconds


class Watermark:
    """``max event time seen - allowed lateness``; monotonic; None before the first event."""

    def __init__(self, allowed_lateness_seconds: int, max_event_us: int | None = None) -> None:
        if allowed_lateness_seconds < 0:
            raise ValueError(f"allowed lateness must be >= 0, got {allowed_lateness_seconds}")
        self.lateness_us = allowed_lateness_seconds * US_PER_S
        self.max_event_us = max_event_us

    def observe(self, ts_us: int) -> None:
        if self.max_event_us is None or ts_us > self.max_event_us:
            self.max_event_us = ts_us

    @property
    def value_us(self) -> int | None:
        return None if self.max_event_us is None else self.max_event_us - self.lateness_us

    @property
    def value(self) -> dt.datetime | None:
        us = self.value_us
        return None if us is None else from_us(us)


@dataclass(frozen=True, slots=True)
class ClosedWindow(Generic[S]):
    """One window the watermark closed: its bounds and the state of every key that had events."""

    start: int
    end: int
    items: dict[str, S]  # key -> state, keys in sorted order


class WindowStore(Generic[S]):
    """Per-key state for the open windows of one ``WindowSpec``.

    ``closed_until`` (epoch seconds): every window ending at or before it is closed. It only grows,
    so a window is emitted once; an event whose window ends at or before it is late for that window.
    """

    def __init__(self, spec: WindowSpec, factory: Callable[[], S]) -> None:
        self.spec = spec
        self._factory = factory
        self.open: dict[int, dict[str, S]] = {}
        self.closed_until: int | None = None

    def is_closed(self, start: int) -> bool:
        return self.closed_until is not None and self.spec.end(start) <= self.closed_until

    def state(self, start: int, key: str) -> S:
        """The state of an open window for ``key``, created on first use."""
        if self.is_closed(start):
            raise ValueError(f"window {rfc3339(start)} of {self.spec.kind} is already closed")
        per_key = self.open.setdefault(start, {})
        st = per_key.get(key)
        if st is None:
            st = per_key[key] = self._factory()
        return st

    def assign(self, ts_us: int) -> tuple[list[int], list[int]]:
        """Split the windows of an event time into (open starts, already closed starts)."""
        open_starts: list[int] = []
        closed_starts: list[int] = []
        for start in self.spec.starts_for(ts_us):
            (closed_starts if self.is_closed(start) else open_starts).append(start)
        return open_starts, closed_starts

    def close_until(
        self, watermark_us: int, *, include_empty: Callable[[int], bool] | None = None
    ) -> Iterator[ClosedWindow[S]]:
        """Close (oldest first) every window ending at or before the watermark.

        Windows with state are always yielded. Window starts with no state are yielded (with no
        items) when ``include_empty(start)`` is true — e.g. while a rule watches for silence; it is asked
        for every start in turn, so one jump of the watermark closes the same windows as many small ones.
        The generator records progress as it goes, so each window is closed exactly once.
        """
        step = self.spec.step
        limit = (watermark_us // US_PER_S) // step * step  # the aligned watermark (epoch seconds)
        if self.closed_until is not None and limit <= self.closed_until:
            return
        if self.closed_until is None:
            if not self.open:
                return
            start = min(self.open)
        else:
            start = self.closed_until - self.spec.size_seconds + step
        size = self.spec.size_seconds
        while start + size <= limit:
            items = self.open.pop(start, None)
            if items is not None:
                self.closed_until = start + size
                yield ClosedWindow(start, start + size, dict(sorted(items.items())))
            elif include_empty is not None and include_empty(start):
                self.closed_until = start + size
                yield ClosedWindow(start, start + size, {})
            elif include_empty is not None:
                # not wanted now, but a later start may be (a silence grows window by window): look at
                # every start, so the windows closed do not depend on how far the watermark moved at once
                pass
            else:
                # nothing to report until the next window with state: skip ahead to it
                pending = [s for s in self.open if s > start]
                if not pending or min(pending) + size > limit:
                    break
                start = min(pending)
                self.closed_until = start - step + size
                continue
            start += step
        self.closed_until = limit if self.closed_until is None else max(self.closed_until, limit)

    def __len__(self) -> int:
        """Number of open (window, key) states."""
        return sum(len(v) for v in self.open.values())
