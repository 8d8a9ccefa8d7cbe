"""Share rules: per agency and window, the share of queries that match a condition is at or above a
threshold, with a minimum count (of matching queries, or of all queries in the window)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from processors.rules.base import Finding, Rule, WindowView, at_least, refs
from schemas import ProcessedEvent


@dataclass(frozen=True, slots=True)
class Params:
    threshold: float = 0.5
    min_count: int = 5

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        at_least(self, 1, "min_count")


class ShareRule(Rule[Params]):
    """Subclasses say which queries match, what ``min_count`` counts, and how to word the finding."""

    Params = Params
    counted: ClassVar[str]  # the name of the matching count in the evidence
    min_count_of: ClassVar[Literal["matching", "total"]]

    def matches(self, event: ProcessedEvent) -> bool:
        raise NotImplementedError

    def summary(self, ori: str, matching: int, total: int, share: float) -> str:
        raise NotImplementedError

    def policy_rules(self, matching: list[ProcessedEvent]) -> tuple[str, ...]:
        return tuple(sorted({r for e in matching for r in e.rules}))

    def on_window(self, window: WindowView) -> list[Finding]:
        findings = []
        for ori, agency in window.agencies.items():
            total = len(agency.events)
            if self.min_count_of == "total" and total < self.params.min_count:
                continue
            matching = [e for e in agency.events if self.matches(e)]
            share = len(matching) / total if total else 0.0
            if not matching or share < self.params.threshold:
                continue
            if self.min_count_of == "matching" and len(matching) < self.params.min_count:
                continue
            summary = self.summary(ori, len(matching), total, share)
            counts = {self.counted: len(matching), "total": total, "share": round(share, 4)}
            findings.append(
                window.finding(ori, summary, refs(matching), counts, policy_rules=self.policy_rules(matching))
            )
        return findings
