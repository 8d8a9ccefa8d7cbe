"""What a classification decided and why: the facts behind one verdict and each rule's trace.

Its own module so that the classifier (which makes a ``Decision``) and ``explain`` (which turns one into
``RuleTrace`` lines) both import it and neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from processors.agencies import Agency
from processors.policy.signals import CaseReading, Hit, Signals
from schemas import Verdict
from schemas.outputs import PurposeName, VerdictName


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """One rule considered for one event: whether it fired and why (``clets-watch explain``)."""

    rule_id: str
    description: str
    clause: str
    fired: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Judgement:
    """How the clauses combined: the verdict, the purpose, the rules that fired and the facts that decided
    them. It depends only on what the classifier memoizes on, so one judgement serves every equal event."""

    verdict: VerdictName
    purpose: PurposeName
    rules: tuple[str, ...]
    immigration_hits: tuple[Hit, ...]
    by_text: bool  # the immigration purpose is written (not presumed from the component's mission)
    presumed: bool
    criminal_documented: bool
    ncj_by_code: bool
    uncertain: bool


@dataclass(frozen=True, slots=True)
class Decision:
    """The facts behind a verdict, kept so ``explain`` can show each rule's reasoning."""

    verdict: Verdict
    agency: Agency | None
    signals: Signals
    case: CaseReading
    data_source: str
    purpose_code: str | None
    revoked_since: str | None
    revoked: bool
    judgement: Judgement

    @property
    def fired(self) -> frozenset[str]:
        """The ids of the rules that fired."""
        return frozenset(self.judgement.rules)
