"""Rule cardinality: one operator (pseudonym) looks up an unusual number of distinct subjects
(``subject_key`` pseudonyms) in one window. Key = ``ORI:operator``."""

from __future__ import annotations

from dataclasses import dataclass

from processors.rules.base import Finding, Rule, WindowView, at_least, group_by, refs


@dataclass(frozen=True, slots=True)
class Params:
    max_distinct_subjects: int = 10

    def __post_init__(self) -> None:
        at_least(self, 2, "max_distinct_subjects")


class Cardinality(Rule[Params]):
    rule_id = "cardinality"
    Params = Params

    def on_window(self, window: WindowView) -> list[Finding]:
        findings = []
        for ori, agency in window.agencies.items():
            looked_up = [e for e in agency.events if e.subject_key is not None]
            for operator, events in group_by(looked_up, lambda e: e.operator):
                distinct = len({e.subject_key for e in events})
                if distinct < self.params.max_distinct_subjects:
                    continue
                summary = (
                    f"{ori}: operator {operator} looked up {distinct} distinct subjects in "
                    f"{len(events)} queries in one window (limit {self.params.max_distinct_subjects})"
                )
                counts = {"distinct_subjects": distinct, "queries": len(events)}
                key = f"{ori}:{operator}"
                findings.append(
                    window.finding(ori, summary, refs(events), counts, key=key, policy_rules=("POL-4",))
                )
        return findings
