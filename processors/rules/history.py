"""Per-agency counts of past windows, for rules that compare a window with the agency's own history
(``dmv_by_dhs_surge``, ``flatline``): kept in the rule's state, evicted by event time, serialised."""

from __future__ import annotations

from typing import TypeVar

import msgspec

from processors.rules.base import EventRef, Rule

P = TypeVar("P")


class WindowCounts(msgspec.Struct):
    size: int = 0  # window size in seconds (known once a window closed)
    history: dict[str, dict[int, int]] = {}  # ORI -> window start -> count (non-zero only)
    samples: dict[str, dict[int, list[EventRef]]] = {}  # ORI -> window start -> a few of its events

    def record(self, ori: str, start: int, count: int, sample: list[EventRef] | None = None) -> None:
        self.history.setdefault(ori, {})[start] = count
        if sample:
            self.samples.setdefault(ori, {})[start] = sample

    def sample(self, ori: str, lo: int, hi: int) -> list[EventRef]:
        """The events kept as evidence for the agency's windows starting in [lo, hi)."""
        return [r for s, refs in sorted(self.samples.get(ori, {}).items()) if lo <= s < hi for r in refs]

    def counts(self, ori: str, lo: int, hi: int) -> list[int]:
        """The recorded counts of the agency's windows starting in [lo, hi)."""
        return [n for s, n in self.history.get(ori, {}).items() if lo <= s < hi]

    def evict(self, floor: int) -> None:
        for table in (self.history, self.samples):
            for ori in list(table):
                past = table[ori]
                for s in [s for s in past if s < floor]:
                    del past[s]
                if not past:
                    del table[ori]


class WindowCountsRule(Rule[P]):
    """A rule whose state is ``WindowCounts``; it says how many windows back it needs."""

    def __init__(self, settings: object) -> None:
        super().__init__(settings)  # type: ignore[arg-type]  # RuleSettings, typed in Rule
        self._state = WindowCounts()

    def windows_kept(self) -> int:
        raise NotImplementedError

    def evict(self, watermark_s: int) -> None:
        if self._state.size:
            self._state.evict(watermark_s - self.windows_kept() * self._state.size)

    def state_bytes(self) -> bytes:
        return msgspec.msgpack.encode(self._state)

    def load_state(self, data: bytes) -> None:
        self._state = msgspec.msgpack.decode(data, type=WindowCounts) if data else WindowCounts()
