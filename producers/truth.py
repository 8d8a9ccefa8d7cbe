"""The ground-truth oracle: the label an event *should* get, from its intent and domain.md's policy.

It never calls the classifier and never reads meaning out of the reason text: it uses the intent the
scenario chose, the agency, the data source, the event time, the purpose code, and only the plain
facts of the free-text fields that the policy itself names (is the reason empty; is there a case
number; is that case number an A-number — "A" and 8 or 9 digits, domain.md).

What the label means — the choice we made, so the eval stays honest
------------------------------------------------------------------------
``purpose``/``verdict`` are what the policy says *given what the query documents*; ``misuse`` says
what is really true. They differ in one place: **personal use (POL-4)**. A snooping operator writes
a cover story ("inv", "veh check") or nothing; policy-by-text can only see the cover, and POL-4 is
found by patterns over many queries (the alert rules), not by classifying one line. So for intent
``personal`` the label is the cover's label — ``criminal_justice``/``allowed`` for a routine-looking
reason, ``unknown``/``review`` for an empty one — with ``misuse=True``. The eval scores the classifier
against purpose/verdict and reports misuse separately, so undetectable snooping neither inflates nor
hides anything. When the operator writes the personal purpose down (``personal_disclosed``), the
label is ``non_criminal_justice``/``prohibited`` under POL-4.

Every other intent is labelled by its real purpose, whether or not the text makes it easy: an
immigration query is ``immigration_enforcement`` even when written as "susp veh", and a CCW check is
``non_criminal_justice`` even when typed as "chk". POL-1 is the one exception the policy makes
itself: with no reason and no case number the purpose is ``unknown`` (unless POL-2c presumes it).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from processors.agencies import Agency
from producers.reasons import CRIMINAL_JUSTICE_INTENTS, IMMIGRATION_INTENTS, INTENTS, NCJ_INTENTS, Intent

PACIFIC: Final = ZoneInfo("America/Los_Angeles")
ERO_ACCESS_ENDS: Final = dt.datetime(2019, 10, 15, tzinfo=PACIFIC)  # domain.md, POL-2d
MISSION_PRESUMPTION: Final = frozenset({"ICE-ERO"})  # POL-2c
REVOKED: Final = {"ICE-ERO": ERO_ACCESS_ENDS}  # POL-2d
OPEN_FOR_IMMIGRATION: Final = frozenset({"criminal_history"})  # POL-2a
_A_NUMBER: Final = re.compile(r"^\s*a\s*(?:#|-|:|no\.?|number|num)?\s*(?:\d[\s-]?){7,8}\d\s*$", re.IGNORECASE)
# a word that names only the act of looking (info, chk, query) says nothing about why: no justification (POL-1)
_NO_TEXT: Final = frozenset(
    {
        "",
        "n/a",
        "na",
        "none",
        "x",
        "xx",
        "-",
        ".",
        "..",
        "nr",
        "tbd",
        "test",
        "info",
        "chk",
        "check",
        "query",
        "qry",
    }
)
_RANK: Final = {"allowed": 0, "review": 1, "prohibited": 2}


@dataclass(frozen=True, slots=True)
class TruthLabel:
    """The expected classification of one event, the clauses behind it, and whether it is really misuse."""

    purpose: str
    verdict: str
    clauses: tuple[str, ...]
    misuse: bool = False


def has_reason(reason: str) -> bool:
    """A reason that says something: not empty, not whitespace, not a placeholder such as "n/a"."""
    text = reason.strip().lower()
    return text not in _NO_TEXT and any(c.isalnum() for c in text)


def is_a_number(case_number: str) -> bool:
    return bool(_A_NUMBER.match(case_number))


def expected_label(
    intent: Intent,
    *,
    agency: Agency | None,
    data_source: str,
    occurred_at: dt.datetime,
    purpose_code: str | None,
    reason: str,
    case_number: str | None,
) -> TruthLabel:
    if intent not in INTENTS:
        raise ValueError(f"unknown intent {intent!r}; known: {', '.join(INTENTS)}")
    component = agency.component if agency else None
    case = (case_number or "").strip()
    justified = has_reason(reason) or bool(case)
    criminal_case_number = bool(case) and not is_a_number(case)
    code = (purpose_code or "").strip().upper() or None
    verdict = "allowed"
    clauses: list[str] = []
    misuse = intent in ("personal", "personal_disclosed")

    def worse(v: str, clause: str) -> None:
        nonlocal verdict
        clauses.append(clause)
        if _RANK[v] > _RANK[verdict]:
            verdict = v

    # what the query is for
    if intent in IMMIGRATION_INTENTS:
        purpose = "immigration_enforcement"
    elif intent in CRIMINAL_JUSTICE_INTENTS:
        purpose = "criminal_justice"
    elif intent in NCJ_INTENTS or intent == "personal_disclosed":
        purpose = "non_criminal_justice"
    elif intent == "personal":
        purpose = "criminal_justice"  # the cover story
    else:
        purpose = "unknown"
    # POL-2c: a civil-immigration component that documents no criminal case
    documents_crime = (intent == "criminal_investigation" and has_reason(reason)) or criminal_case_number
    presumed = component in MISSION_PRESUMPTION and intent != "personal_disclosed" and not documents_crime
    if presumed:
        if purpose != "immigration_enforcement":
            clauses.append("POL-2c")
        purpose = "immigration_enforcement"
    elif not justified:  # POL-1: nothing documented, so nothing to judge the purpose by
        purpose = "unknown"

    if purpose == "immigration_enforcement":
        if data_source in OPEN_FOR_IMMIGRATION:
            clauses.append("POL-2a")
        else:
            worse("prohibited", "POL-2b")
    elif purpose == "non_criminal_justice":
        if intent == "personal_disclosed":
            worse("prohibited", "POL-4")
        elif code is None or code == "C":
            worse("prohibited", "POL-3")
        else:
            clauses.append("POL-3")
    if not justified:
        worse("review", "POL-1")
    since = REVOKED.get(component or "")
    if since is not None and occurred_at >= since:
        worse("prohibited", "POL-2d")
    return TruthLabel(
        purpose=purpose, verdict=verdict, clauses=tuple(clauses), misuse=misuse or verdict == "prohibited"
    )
