"""Stop dead-lettering when bad input is no longer the exception.

A few malformed messages are the producers' problem: they go to the dead-letter topic and the
stream goes on. When most of the recent messages are bad, the cause is more likely on our side (a
schema change, a wrong topic, a broken decoder): dead-lettering everything would hide it, so the
worker stops and says why (arroyo's ``DlqLimit``). Late events are not bad input and do not count.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


class DeadLetterLimitExceeded(RuntimeError):
    pass


@dataclass
class DeadLetterLimit:
    """Over (about) the last ``window`` messages, at most ``max_ratio`` may be bad input.

    Counts are kept per batch — the order of messages inside a batch is not known here — and the
    oldest batches are dropped while the rest still cover ``window`` messages."""

    max_ratio: float = 0.8
    window: int = 2000
    _batches: deque[tuple[int, int]] = field(init=False, repr=False)  # (good, bad) per batch
    _good: int = field(default=0, init=False)
    _bad: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not 0 < self.max_ratio <= 1:
            raise ValueError(f"the dead-letter ratio must be in (0, 1], got {self.max_ratio}")
        if self.window < 1:
            raise ValueError(f"the dead-letter window must be >= 1 message, got {self.window}")
        self._batches = deque()

    @property
    def ratio(self) -> float:
        total = self._good + self._bad
        return self._bad / total if total else 0.0

    def record(self, good: int, bad: int) -> None:
        """Count a batch's messages; raise once the window is full and too many of them were bad."""
        if good + bad == 0:
            return
        self._batches.append((good, bad))
        self._good += good
        self._bad += bad
        while self._batches:
            old_good, old_bad = self._batches[0]
            if self._good + self._bad - old_good - old_bad < self.window:
                break
            self._batches.popleft()
            self._good -= old_good
            self._bad -= old_bad
        total = self._good + self._bad
        if self.max_ratio < 1 and total >= self.window and self.ratio > self.max_ratio:
            raise DeadLetterLimitExceeded(
                f"{self._bad} of the last {total} messages were bad input "
                f"({self.ratio:.0%} > {self.max_ratio:.0%}): the cause is likely on our side (a schema "
                "change, a wrong topic?); stopping instead of dead-lettering everything. See the "
                "dead-letter topic (`clets-watch dead-letter list`), fix, then restart the worker."
            )
