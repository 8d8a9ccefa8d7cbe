"""Rule immigration_share: per agency and window, the share of immigration-enforcement-purpose
queries is at or above a threshold, with at least ``min_count`` such queries (POL-2)."""

from __future__ import annotations

from processors.rules.share import Params, ShareRule
from schemas import ProcessedEvent

__all__ = ["ImmigrationShare", "Params"]


class ImmigrationShare(ShareRule):
    rule_id = "immigration_share"
    counted = "immigration_enforcement"
    min_count_of = "matching"

    def matches(self, event: ProcessedEvent) -> bool:
        return event.purpose == "immigration_enforcement"

    def summary(self, ori: str, matching: int, total: int, share: float) -> str:
        return (
            f"{ori}: {matching} of {total} queries ({share:.0%}) had an immigration-enforcement "
            f"purpose (threshold {self.params.threshold:.0%})"
        )
