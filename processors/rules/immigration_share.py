"""Rule immigration_share: per agency and window, the share of immigration-enforcement-purpose
queries is at or above a threshold, with at least ``min_count`` such queries (POL-2)."""

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


class ImmigrationShare(Rule[Params]):
    rule_id = "immigration_share"
    Params = Params

    def on_window(self, window: WindowView) -> list[Finding]:
        findings = []
        for ori, agency in window.agencies.items():
            total = len(agency.events)
            matching = [e for e in agency.events if e.purpose == "immigration_enforcement"]
            share = len(matching) / total if total else 0.0
            if len(matching) < self.params.min_count or share < self.params.threshold:
                continue
            findings.append(
                Finding(
                    key=ori,
                    ori=ori,
                    window_start=window.start,
                    window_end=window.end,
                    summary=(
                        f"{ori}: {len(matching)} of {total} queries ({share:.0%}) had an immigration-enforcement "
                        f"purpose (threshold {self.params.threshold:.0%})"
                    ),
                    events=refs(matching),
                    count=len(matching),
                    counts={"immigration_enforcement": len(matching), "total": total, "share": round(share, 4)},
                    policy_rules=tuple(sorted({r for e in matching for r in e.rules})),
                )
            )
        return findings
