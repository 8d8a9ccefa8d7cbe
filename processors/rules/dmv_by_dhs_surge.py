"""Rule dmv_by_dhs_surge: a DHS component's DMV look-ups (dmv_license + dmv_registration) in a
window far above its own baseline — the raid pattern.

ElastAlert's spike rule: the DMV look-ups of the last ``span_windows`` windows (the current one and
those before it: a raid runs for half an hour or more, not one minute) against the agency's own
baseline for that span — the mean per window over the ``reference_windows`` before the span, times
the span (windows with no DMV look-ups count as zero) — with a floor on the baseline and a minimum
count. Key = the ORI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from processors.rules.base import Finding, WindowView, at_least, refs
from processors.rules.history import WindowCountsRule

DMV_SOURCES: Final = frozenset({"dmv_license", "dmv_registration"})


@dataclass(frozen=True, slots=True)
class Params:
    reference_windows: int = 30
    span_windows: int = 1
    spike_height: float = 3.0
    min_reference: float = 1.0
    min_count: int = 10

    def __post_init__(self) -> None:
        at_least(self, 1, "span_windows", "reference_windows")
        if self.spike_height <= 1.0:
            raise ValueError(f"spike_height must be > 1, got {self.spike_height}")
        if self.min_reference <= 0 or self.min_count < 1:
            raise ValueError("min_reference must be > 0 and min_count >= 1")


class DmvByDhsSurge(WindowCountsRule[Params]):
    rule_id = "dmv_by_dhs_surge"
    Params = Params

    def _summary(
        self, ori: str, component: str | None, count: int, span: int, mean: float, reference: float
    ) -> str:
        """What on-call reads: the burst against what the agency usually does, and, for an agency that is
        usually quiet, against the floor the rule uses instead (never "x times a baseline of 0.00")."""
        usual = mean * self.params.span_windows
        head = f"{ori} ({component or 'DHS'}): {count} DMV look-ups in {span} min"
        if usual >= self.params.min_reference:
            return f"{head}, {count / reference:.1f}x its usual {usual:.1f} per {span} min"
        return (
            f"{head}; it usually makes {usual:.1f} per {span} min, so the rule compares with its floor of "
            f"{self.params.min_reference:g} ({count / reference:.1f}x)"
        )

    def baseline(self, ori: str, start: int) -> float:
        """Mean DMV look-ups per window over the reference windows before ``start``."""
        size = self._state.size
        lo = start - self.params.reference_windows * size
        return sum(self._state.counts(ori, lo, start)) / self.params.reference_windows

    def span_count(self, ori: str, start: int, current: int) -> int:
        """DMV look-ups in the span ending with the window at ``start`` (``current`` of them in it)."""
        lo = start - (self.params.span_windows - 1) * self._state.size
        return current + sum(self._state.counts(ori, lo, start))

    def on_window(self, window: WindowView) -> list[Finding]:
        self._state.size = window.end - window.start
        findings = []
        for ori, agency in window.agencies.items():
            if agency.department != "DHS":
                continue
            dmv = [e for e in agency.events if e.data_source in DMV_SOURCES]
            if not dmv:
                continue
            span_start = window.start - (self.params.span_windows - 1) * self._state.size
            mean = self.baseline(ori, span_start)
            reference = max(mean * self.params.span_windows, self.params.min_reference)
            count = self.span_count(ori, window.start, len(dmv))
            if count >= self.params.min_count and count >= self.params.spike_height * reference:
                span = self.params.span_windows * self._state.size // 60
                counts = {
                    "dmv": count,
                    "dmv_in_window": len(dmv),
                    "span_windows": self.params.span_windows,
                    "dmv_license": sum(1 for e in dmv if e.data_source == "dmv_license"),
                    "dmv_registration": sum(1 for e in dmv if e.data_source == "dmv_registration"),
                    "baseline_mean": round(mean, 4),
                    "ratio": round(count / reference, 4),
                }
                findings.append(
                    window.finding(
                        ori,
                        self._summary(ori, agency.component, count, span, mean, reference),
                        self._state.sample(ori, span_start, window.start) + refs(dmv),
                        counts,
                        count=count,
                        policy_rules=tuple(sorted({r for e in dmv for r in e.rules})),
                    )
                )
            self._state.record(ori, window.start, len(dmv), refs(dmv)[: self.settings.sample_size])
        return findings

    def windows_kept(self) -> int:
        return self.params.reference_windows + self.params.span_windows + 1
