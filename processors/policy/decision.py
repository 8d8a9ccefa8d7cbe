"""What a classification decided and why: the facts behind one verdict and each rule's trace.

Its own module so that the classifier (which makes a ``Decision``) and ``explain`` (which turns one into
``RuleTrace`` lines) both import it and neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from processors.agencies import Agency
from processors.policy.signals import CaseReading, Hit, Signals
from schemas import Verdict


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """One rule considered for one event: whether it fired and why (``clets-watch explain``)."""

    rule_id: str
    description: str
    clause: str
    fired: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The facts behind a verdict, kept so ``explain`` can show each rule's reasoning."""

    verdict: Verdict
    agency: Agency | None
    signals: Signals
    case: CaseReading
    data_source: str
    purpose_code: str | None
    immigration_hits: tuple[Hit, ...]
    immigration_by_text: bool
    presumed: bool
    criminal_documented: bool
    revoked_since: str | None
    revoked: bool
    fired: frozenset[str]
    ncj_by_code: bool
    uncertain: bool = False
