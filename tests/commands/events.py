"""The query event the command tests feed to classify, explain and replay, as the JSON object a producer sends."""

from __future__ import annotations

from typing import Any


def event(**fields: Any) -> dict[str, Any]:
    """A valid direct DMV query by Los Angeles County's sheriff (CA0190000); ``fields`` replace its values."""
    return {
        "schema_version": 1,
        "event_id": "e-1",
        "occurred_at": "2019-05-01T10:00:00-07:00",
        "ori": "CA0190000",
        "operator_id": "op",
        "terminal_id": "t",
        "message_type": "DQ",
        "purpose_code": None,
        "reason": "traffic stop 23152 VC",
        "case_number": None,
        "subject": {"name": "X"},
    } | fields
