"""Rates measured from the first processed event to the last, start-up excluded."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(slots=True)
class Meter:
    """Counts processed events; ``rate`` is (count - count at first observation) / (t_last - t_first)."""

    target: int
    count: int = 0
    first_count: int = 0
    first_at: float | None = None
    last_at: float | None = None

    def add(self, n: int, now: float | None = None) -> None:
        if n <= 0:
            return
        now = time.perf_counter() if now is None else now
        self.count += n
        if self.first_at is None:
            self.first_at, self.first_count = now, self.count
        self.last_at = now

    def observe_total(self, total: int, now: float | None = None) -> None:
        """For an external counter (metrics, offsets): record a new running total."""
        if total > self.count:
            self.add(total - self.count, now)

    @property
    def done(self) -> bool:
        return self.count >= self.target

    @property
    def seconds(self) -> float:
        if self.first_at is None or self.last_at is None:
            return 0.0
        return self.last_at - self.first_at

    @property
    def rate(self) -> float:
        measured = self.count - self.first_count
        return measured / self.seconds if self.seconds > 0 and measured > 0 else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "events": self.count,
            "measured_events": self.count - self.first_count,
            "seconds": round(self.seconds, 4),
            "events_per_second": round(self.rate, 1),
        }
