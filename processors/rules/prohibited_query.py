"""Rule prohibited_query: a single query the policy classifies ``prohibited`` alerts at once.

Key = the event id; window = the event's tumbling window. Evidence names the policy clauses
(the verdict's rule ids).
"""

from __future__ import annotations

from dataclasses import dataclass

from processors.rules.base import EventRef, Finding, Rule
from schemas import ProcessedEvent


@dataclass(frozen=True, slots=True)
class Params:
    pass


class ProhibitedQuery(Rule[Params]):
    rule_id = "prohibited_query"
    Params = Params

    def on_event(self, event: ProcessedEvent, window_start: int, window_end: int) -> list[Finding]:
        if event.verdict != "prohibited":
            return []
        clauses = ", ".join(event.rules) or "no clause named"
        return [
            Finding(
                key=event.event_id,
                ori=event.ori,
                window_start=window_start,
                window_end=window_end,
                summary=(
                    f"prohibited {event.message_type} query ({event.data_source}, purpose {event.purpose}) "
                    f"by {event.ori}: {clauses}"
                ),
                events=[EventRef.of(event)],
                count=1,
                counts={"prohibited": 1},
                policy_rules=event.rules,
            )
        ]
