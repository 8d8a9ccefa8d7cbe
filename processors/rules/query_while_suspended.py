"""query_while_suspended: a direct query by an agency whose direct access a supervisor suspended.

Per event, critical: the pipeline hands the rule its ``DecisionBook`` (processors/access_decisions.py)
and the rule asks which decision was in force at the event's time, so live and replay agree. A restore
ends the suspension from its effective time on.
"""

from __future__ import annotations

from processors.access_decisions import DecisionBook
from processors.rules.base import Finding, NoParams, Rule
from processors.windows import to_us
from schemas import ProcessedEvent


class QueryWhileSuspended(Rule[NoParams]):
    rule_id = "query_while_suspended"
    Params = NoParams
    decisions: DecisionBook = DecisionBook()  # replaced by the pipeline's book (Pipeline.__init__)

    def on_event(self, event: ProcessedEvent, window_start: int, window_end: int) -> list[Finding]:
        suspension = self.decisions.suspended_at(event.ori, to_us(event.occurred_at))
        if suspension is None:
            return []
        summary = (
            f"{event.message_type} query ({event.data_source}) by {event.ori} while its direct access is "
            f"suspended (since {suspension.effective_at}, by {suspension.by}: {suspension.reason}); "
            "written requests only"
        )
        return [Finding.of_event(event, window_start, window_end, summary, "queries_while_suspended")]
