"""The contracts of clets-watch: query event v1, verdict, window aggregate, alert.

The Python types here are the single source of truth; the JSON Schema files under
``schemas/json/`` are generated from them (``python -m schemas.export``) and a test
keeps the two equal.
"""

from schemas.events import (
    DEAD_LETTER_REASONS,
    InvalidEvent,
    QueryEvent,
    decode_event,
    encode_event,
)
from schemas.outputs import (
    AccessDecision,
    Aggregate,
    Alert,
    DeadLetter,
    Evidence,
    Incident,
    ProcessedEvent,
    Verdict,
    dead_letter_message,
)

__all__ = [
    "DEAD_LETTER_REASONS",
    "AccessDecision",
    "Aggregate",
    "Alert",
    "DeadLetter",
    "Evidence",
    "Incident",
    "InvalidEvent",
    "ProcessedEvent",
    "QueryEvent",
    "Verdict",
    "dead_letter_message",
    "decode_event",
    "encode_event",
]
