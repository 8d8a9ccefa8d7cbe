"""Rule cardinality: one operator (pseudonym) looks up an unusual number of distinct subjects
(``subject_key`` pseudonyms) in one window. Key = ``ORI:operator``."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from processors.rules.base import Finding, Rule, WindowView, refs
from schemas import ProcessedEvent


@dataclass(frozen=True, slots=True)
class Params:
    max_distinct_subjects: int = 10

    def __post_init__(self) -> None:
        if self.max_distinct_subjects < 2:
            raise ValueError(f"max_distinct_subjects must be >= 2, got {self.max_distinct_subjects}")


class Cardinality(Rule[Params]):
    rule_id = "cardinality"
    Params = Params

    def on_window(self, window: WindowView) -> list[Finding]:
        findings = []
        for ori, agency in window.agencies.items():
            by_operator: dict[str, list[ProcessedEvent]] = defaultdict(list)
            for e in agency.events:
                if e.subject_key is not None:
                    by_operator[e.operator].append(e)
            for operator, events in sorted(by_operator.items()):
                distinct = len({e.subject_key for e in events})
                if distinct < self.params.max_distinct_subjects:
                    continue
                findings.append(
                    Finding(
                        key=f"{ori}:{operator}",
                        ori=ori,
                        window_start=window.start,
                        window_end=window.end,
                        summary=(
                            f"{ori}: operator {operator} looked up {distinct} distinct subjects in "
                            f"{len(events)} queries in one window (limit {self.params.max_distinct_subjects})"
                        ),
                        events=refs(events),
                        count=len(events),
                        counts={"distinct_subjects": distinct, "queries": len(events)},
                        policy_rules=("POL-4",),
                    )
                )
        return findings
