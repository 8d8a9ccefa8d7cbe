"""Rule missing_justification: per agency and window, the share of queries with neither a reason
nor a case number is at or above a threshold, over at least ``min_count`` queries (POL-1)."""

from __future__ import annotations

from dataclasses import dataclass

from processors.rules.base import Finding, Rule, WindowView, refs


@dataclass(frozen=True, slots=True)
class Params:
    threshold: float = 0.5
    min_count: int = 5

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {self.min_count}")


class MissingJustification(Rule[Params]):
    rule_id = "missing_justification"
    Params = Params

    def on_window(self, window: WindowView) -> list[Finding]:
        findings = []
        for ori, agency in window.agencies.items():
            total = len(agency.events)
            if total < self.params.min_count:
                continue
            missing = [e for e in agency.events if not e.has_reason and not e.has_case_number]
            share = len(missing) / total
            if not missing or share < self.params.threshold:
                continue
            findings.append(
                Finding(
                    key=ori,
                    ori=ori,
                    window_start=window.start,
                    window_end=window.end,
                    summary=(
                        f"{ori}: {len(missing)} of {total} queries ({share:.0%}) had no reason and no case number"
                    ),
                    events=refs(missing),
                    count=len(missing),
                    counts={"unjustified": len(missing), "total": total, "share": round(share, 4)},
                    policy_rules=("POL-1",),
                )
            )
        return findings
