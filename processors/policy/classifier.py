"""The pure classifier: one query event + the agency registry → a Verdict under a versioned policy.

How the clauses combine (domain.md): a query with any immigration-enforcement indicator has purpose
``immigration_enforcement`` even beside a criminal reference; POL-2a/2b then decide by data source.
Weak indicators (``ICE``, ``alien``, ``visa``…) need a second weak one, or an immigration component
writing them, and never outweigh a written criminal offence or a criminal case number. POL-2c presumes
immigration enforcement for a mission-presumption component (ICE-ERO) that documents no criminal case;
the presumption sets the purpose for every source, and the verdict follows POL-2a/2b. POL-2d forbids any
query of a revoked component from its date. Strictest verdict wins: prohibited > review > allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from processors.agencies import Agency, AgencyRegistry
from processors.policy.model import Policy
from processors.policy.signals import Hit, SignalReader, Signals
from schemas import QueryEvent, Verdict
from schemas.outputs import PurposeName, VerdictName

SIGNAL_CACHE_SIZE: Final = 50_000

_RANK: Final[dict[str, int]] = {"allowed": 0, "review": 1, "prohibited": 2}


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


class Classifier:
    """Classifies query events under one policy. Pure and thread-compatible (it only caches tokens)."""

    def __init__(self, policy: Policy, registry: AgencyRegistry) -> None:
        self.policy = policy
        self.registry = registry
        self.reader = SignalReader(policy)
        # Operators type the same few reasons over and over: read each (reason, case number) once.
        self._signals: dict[tuple[str, str | None], Signals] = {}
        r = policy.rules
        self._ids = {kind: rule.id for kind, rule in r.items()}

    def classify(self, event: QueryEvent) -> Verdict:
        return self.decide(event).verdict

    def explain(self, event: QueryEvent) -> tuple[Verdict, list[RuleTrace]]:
        from processors.policy.explain import traces

        decision = self.decide(event)
        return decision.verdict, traces(self.policy, decision)

    def decide(self, event: QueryEvent) -> Decision:
        policy = self.policy
        ids = self._ids
        agency = self.registry.get(event.ori)
        component = agency.component if agency else None
        source = policy.data_source(event.message_type)
        code = (event.purpose_code or "").strip().upper() or None
        text_key = (event.reason, event.case_number)
        sig = self._signals.get(text_key)
        if sig is None:
            if len(self._signals) >= SIGNAL_CACHE_SIZE:  # bounded: memory must not grow with the stream
                self._signals.clear()
            sig = self._signals[text_key] = self.reader.read(event.reason, event.case_number)

        offences = sig.of("criminal_offence")
        criminal_documented = bool(offences) or sig.criminal_case_number
        imm_strong = sig.of("immigration", "strong")
        imm_moderate = sig.of("immigration", "moderate")
        imm_weak = sig.of("immigration", "weak") + imm_moderate
        imm_context = sig.of("immigration", "context")
        in_context = component is not None and component in policy.context_components
        imm_hits: tuple[Hit, ...] = imm_strong
        if not imm_hits and imm_moderate and not criminal_documented:
            imm_hits = imm_moderate
        if not imm_hits and not offences:
            if len({h.matched for h in imm_weak}) >= 2:
                imm_hits = imm_weak
            elif in_context and (imm_weak or imm_context) and not criminal_documented:
                imm_hits = imm_weak + imm_context
        by_text = bool(imm_hits)
        personal = sig.of("personal") if not criminal_documented else ()
        presumed = (
            not by_text
            and not personal
            and component is not None
            and component in policy.presumption_components
            and not criminal_documented
        )
        ncj_hits = sig.of("non_criminal_justice") if not offences else ()
        ncj_by_code = code is not None and code not in policy.criminal_justice_codes

        fired: list[str] = []
        verdict: VerdictName = "allowed"
        purpose: PurposeName

        def worse(v: VerdictName) -> None:
            nonlocal verdict
            if _RANK[v] > _RANK[verdict]:
                verdict = v

        if by_text or presumed:
            purpose = "immigration_enforcement"
            fired.append(ids["immigration_indicator"] if by_text else ids["mission_presumption"])
            if source in policy.exception_sources:
                fired.append(ids["federal_law_exception"])
            else:
                fired.append(ids["prohibited_source"])
                worse("prohibited")
        elif not sig.justified:
            purpose = "unknown"
        elif personal:
            purpose = "non_criminal_justice"
            fired.append(ids["personal_use"])
            worse("prohibited")
        elif ncj_hits or ncj_by_code:
            purpose = "non_criminal_justice"
            if ncj_by_code:
                fired.append(ids["ncj_own_code"])
            else:
                fired.append(ids["ncj_under_cj_code"])
                worse("prohibited")
        else:
            purpose = "criminal_justice"
            fired.append(ids["justified"])
        if not sig.justified:
            fired.insert(0, ids["no_justification"])
            worse("review")
        since = policy.revoked_since(component)
        revoked = since is not None and event.occurred_at >= since
        if revoked:
            fired.append(ids["revoked_access"])
            worse("prohibited")
        return Decision(
            verdict=Verdict(
                event_id=event.event_id,
                verdict=verdict,
                purpose=purpose,
                rules=tuple(fired),
                policy_version=policy.version,
                data_source=source,
            ),
            agency=agency,
            signals=sig,
            data_source=source,
            purpose_code=code,
            immigration_hits=imm_hits,
            immigration_by_text=by_text,
            presumed=presumed,
            criminal_documented=criminal_documented,
            revoked_since=since.isoformat() if since else None,
            revoked=revoked,
            fired=frozenset(fired),
            ncj_by_code=ncj_by_code,
        )
