"""Rule prohibited_query: a single query the policy classifies ``prohibited`` alerts at once.

Key = the event id; window = the event's tumbling window. Evidence names the policy clauses
(the verdict's rule ids).
"""

from __future__ import annotations

from processors.rules.base import Finding, NoParams, Rule
from schemas import ProcessedEvent


class ProhibitedQuery(Rule[NoParams]):
    rule_id = "prohibited_query"
    Params = NoParams

    def on_event(self, event: ProcessedEvent, window_start: int, window_end: int) -> list[Finding]:
        if event.verdict != "prohibited":
            return []
        clauses = ", ".join(event.rules) or "no clause named"
        summary = (
            f"prohibited {event.message_type} query ({event.data_source}, purpose {event.purpose}) "
            f"by {event.ori}: {clauses}"
        )
        return [Finding.of_event(event, window_start, window_end, summary, "prohibited")]
