"""Rule flatline: an agency that normally queries goes silent for a window.

Evaluated when the watermark closes a window. A silence is ``silent_windows`` windows in a row with
no query from the agency (one quiet minute of a Poisson stream averaging 2 a minute happens 13% of
the time; ten in a row, almost never). It alerts if, over the ``baseline_windows`` windows before the
silence began, the agency queried in at least ``min_active_windows`` and averaged at least
``min_baseline`` queries per window, and expected at least ``min_expected`` queries over the silence.
Alerts once per silence, when it reaches ``silent_windows`` windows. Key = the ORI.
"""

from __future__ import annotations

from dataclasses import dataclass

from processors.rules.base import Finding, WindowView, at_least
from processors.rules.history import WindowCountsRule


@dataclass(frozen=True, slots=True)
class Params:
    baseline_windows: int = 30
    min_baseline: float = 5.0
    min_active_windows: int = 10
    silent_windows: int = 1
    min_expected: float = 0.0

    def __post_init__(self) -> None:
        at_least(self, 1, "silent_windows", "baseline_windows")
        if not 1 <= self.min_active_windows <= self.baseline_windows:
            raise ValueError("min_active_windows must be in 1..baseline_windows")
        if self.min_baseline <= 0:
            raise ValueError(f"min_baseline must be > 0, got {self.min_baseline}")


class Flatline(WindowCountsRule[Params]):
    rule_id = "flatline"
    Params = Params

    def _baseline(self, ori: str, start: int) -> tuple[float, int] | None:
        """(mean per window, active windows) if the agency normally queries before ``start``."""
        size = self._state.size
        lo = start - self.params.baseline_windows * size
        counts = self._state.counts(ori, lo, start)
        mean = sum(counts) / self.params.baseline_windows
        if len(counts) >= self.params.min_active_windows and mean >= self.params.min_baseline:
            return mean, len(counts)
        return None

    def _silence_start(self, start: int) -> int:
        return start - (self.params.silent_windows - 1) * self._state.size

    def wants_empty_window(self, start: int) -> bool:
        if not self._state.size:
            return False
        begin = self._silence_start(start)
        return any(self._baseline(ori, begin) for ori in self._state.history)

    def on_window(self, window: WindowView) -> list[Finding]:
        size = self._state.size = window.end - window.start
        findings = []
        for ori in sorted(self._state.history):
            if ori in window.agencies:
                continue
            past = self._state.history[ori]
            begin = self._silence_start(window.start)
            if begin - size not in past:
                continue  # silent before the span began: this silence was reported already (or is older)
            if any(s in past for s in range(begin, window.start, size)):
                continue  # not silent through the whole span
            base = self._baseline(ori, begin)
            if base is None:
                continue
            mean, active = base
            if mean * self.params.silent_windows < self.params.min_expected:
                continue
            findings.append(
                Finding(
                    key=ori,
                    ori=ori,
                    window_start=begin,
                    window_end=window.end,
                    summary=(
                        f"{ori} went silent: no queries in {self.params.silent_windows} window(s) after "
                        f"averaging {mean:.1f} per window ({active} of the {self.params.baseline_windows} "
                        f"windows before active)"
                    ),
                    events=[],
                    count=0,
                    counts={
                        "queries": 0,
                        "baseline_mean": round(mean, 4),
                        "active_windows": active,
                        "silent_windows": self.params.silent_windows,
                        "expected": round(mean * self.params.silent_windows, 4),
                    },
                )
            )
        for ori, agency in window.agencies.items():
            self._state.record(ori, window.start, len(agency.events))
        return findings

    def windows_kept(self) -> int:
        return self.params.baseline_windows + self.params.silent_windows + 2
