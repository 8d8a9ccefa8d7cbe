"""Rule missing_justification: per agency and window, the share of queries with neither a reason
nor a case number is at or above a threshold, over at least ``min_count`` queries (POL-1)."""

from __future__ import annotations

from processors.rules.share import Params, ShareRule
from schemas import ProcessedEvent

__all__ = ["MissingJustification", "Params"]


class MissingJustification(ShareRule):
    rule_id = "missing_justification"
    counted = "unjustified"
    min_count_of = "total"

    def matches(self, event: ProcessedEvent) -> bool:
        return not event.has_reason and not event.has_case_number

    def summary(self, ori: str, matching: int, total: int, share: float) -> str:
        return f"{ori}: {matching} of {total} queries ({share:.0%}) had no reason and no case number"

    def policy_rules(self, matching: list[ProcessedEvent]) -> tuple[str, ...]:
        return ("POL-1",)
