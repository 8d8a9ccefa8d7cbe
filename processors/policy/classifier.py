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

from typing import Final

from processors.agencies import AgencyRegistry
from processors.policy.decision import Decision, Judgement, RuleTrace
from processors.policy.explain import traces
from processors.policy.model import Policy
from processors.policy.signals import CaseReading, Hit, SignalReader, Signals
from processors.policy.text import normalize, remember
from schemas import QueryEvent, Verdict
from schemas.outputs import PurposeName, VerdictName

SIGNAL_CACHE_SIZE: Final = 50_000
VERDICT_CACHE_SIZE: Final = 100_000

_RANK: Final[dict[str, int]] = {"allowed": 0, "review": 1, "prohibited": 2}


class Classifier:
    """Classifies query events under one policy. Pure and thread-compatible (it only memoizes).

    Two-level memo (exact): the reason text is read once per normalized reason (never keyed by case number,
    which is nearly unique); the verdict is memoized on that reading plus what it truly depends on — data
    source, purpose code, agency component, what the case number is (none / criminal / A-number) and the
    side of a component's revocation date.
    """

    def __init__(self, policy: Policy, registry: AgencyRegistry) -> None:
        self.policy = policy
        self.registry = registry
        self.reader = SignalReader(policy)
        self._raw: dict[str, tuple[str, Signals]] = {}  # reason as typed -> (normalized reason, its reading)
        self._readings: dict[str, Signals] = {}  # normalized reason -> reading
        self._verdicts: dict[tuple[str, str, str | None, str | None, int, bool], Judgement] = {}
        self._ids = {kind: rule.id for kind, rule in policy.rules.items()}

    def classify(self, event: QueryEvent) -> Verdict:
        policy = self.policy
        agency = self.registry.get(event.ori)
        component = agency.component if agency else None
        source = policy.data_source(event.message_type)
        code = event.purpose_code
        if code is not None:
            code = code.strip().upper() or None
        norm, sig = self._reading(event.reason)
        case = self.reader.read_case_number(event.case_number)
        case_kind = 0 if not case.present else (2 if case.hits else 1)
        since = policy.revoked_since(component)
        revoked = since is not None and event.occurred_at >= since
        key = (norm, source, code, component, case_kind, revoked)
        j = self._verdicts.get(key)
        if j is None:
            j = remember(
                self._verdicts,
                key,
                self._judge(sig, case, source, code, component, revoked),
                VERDICT_CACHE_SIZE,
            )
        return self._verdict(event, source, j)

    def explain(self, event: QueryEvent) -> tuple[Verdict, list[RuleTrace]]:
        decision = self.decide(event)
        return decision.verdict, traces(self.policy, decision)

    def _verdict(self, event: QueryEvent, source: str, j: Judgement) -> Verdict:
        return Verdict(
            event_id=event.event_id,
            verdict=j.verdict,
            purpose=j.purpose,
            rules=j.rules,
            policy_version=self.policy.version,
            data_source=source,
            policy_digest=self.policy.digest,
        )

    def _reading(self, reason: str) -> tuple[str, Signals]:
        got = self._raw.get(reason)
        if got is not None:
            return got
        norm = normalize(reason)
        sig = self._readings.get(norm)
        if sig is None:
            sig = remember(self._readings, norm, self.reader.read(reason), SIGNAL_CACHE_SIZE)
        return remember(self._raw, reason, (norm, sig), SIGNAL_CACHE_SIZE)

    def decide(self, event: QueryEvent) -> Decision:
        """The verdict with every fact behind it (no verdict memo: ``explain`` shows its reasoning)."""
        policy = self.policy
        agency = self.registry.get(event.ori)
        component = agency.component if agency else None
        source = policy.data_source(event.message_type)
        code = (event.purpose_code or "").strip().upper() or None
        _, sig = self._reading(event.reason)
        case = self.reader.read_case_number(event.case_number)
        since = policy.revoked_since(component)
        revoked = since is not None and event.occurred_at >= since
        j = self._judge(sig, case, source, code, component, revoked)
        return Decision(
            verdict=self._verdict(event, source, j),
            agency=agency,
            signals=sig,
            case=case,
            data_source=source,
            purpose_code=code,
            revoked_since=since.isoformat() if since else None,
            revoked=revoked,
            judgement=j,
        )

    def _judge(
        self,
        sig: Signals,
        case: CaseReading,
        source: str,
        code: str | None,
        component: str | None,
        revoked: bool,
    ) -> Judgement:
        """How the clauses combine (domain.md): immigration > no justification > personal > non-CJ > CJ;
        an offence never erases an immigration, personal or non-CJ signal; strictest verdict wins."""
        policy = self.policy
        ids = self._ids
        offences = sig.of("criminal_offence")
        criminal_documented = bool(offences) or case.criminal or sig.case_in_reason is not None
        imm_strong = sig.of("immigration", "strong") + case.hits
        imm_moderate = sig.of("immigration", "moderate")
        imm_weak = sig.of("immigration", "weak") + imm_moderate
        imm_context = sig.of("immigration", "context")
        in_context = component is not None and component in policy.context_components
        imm_hits: tuple[Hit, ...] = imm_strong
        uncertain = False
        if not imm_hits and imm_moderate:
            if not criminal_documented:
                imm_hits = imm_moderate
            elif offences and any(
                w in policy.reading.enforcement_actions for h in imm_moderate for w in h.matched.split()
            ):
                if sig.history and not case.criminal and sig.case_in_reason is None:
                    # "removal - prior 11351 conviction": the offence is the subject's record, the act removal
                    imm_hits = imm_moderate
                else:
                    uncertain = True  # an ambiguous act ("removal", "detainer") beside a written offence
        if not imm_hits and not offences:
            if len({h.matched for h in imm_weak}) >= 2:
                imm_hits = imm_weak
            elif (
                in_context
                and (imm_weak or imm_context)
                and not criminal_documented
                and not sig.of("criminal_context", "strong")
            ):  # "surveillance target veh": an investigation
                imm_hits = imm_weak + imm_context
        by_text = bool(imm_hits)
        personal = sig.of("personal")
        presumed = (
            not by_text
            and not personal
            and component is not None
            and component in policy.presumption_components
            and not criminal_documented
        )
        # which non-CJ hits stand beside an offence is decided where the reason's structure is read
        # (SignalReader._non_cj): an act stands, a party word gives way; an offence phrase containing it wins
        offence_text = " ".join(h.matched for h in offences)
        ncj_hits = tuple(h for h in sig.of("non_criminal_justice") if h.matched not in offence_text)
        ncj_by_code = code is not None and code not in policy.criminal_justice_codes

        fired: list[str] = []
        verdict: VerdictName = "allowed"
        purpose: PurposeName

        def worse(v: VerdictName) -> None:
            nonlocal verdict
            if _RANK[v] > _RANK[verdict]:
                verdict = v

        justified = sig.has_reason or case.present
        if by_text or presumed:
            purpose = "immigration_enforcement"
            fired.append(ids["immigration_indicator"] if by_text else ids["mission_presumption"])
            if source in policy.exception_sources:
                fired.append(ids["federal_law_exception"])
            else:
                fired.append(ids["prohibited_source"])
                worse("prohibited")
        elif not justified:
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
            if uncertain and source not in policy.exception_sources:
                fired.append(ids["uncertain"])
                worse("review")
        if not justified:
            fired.insert(0, ids["no_justification"])
            worse("review")
        if revoked:
            fired.append(ids["revoked_access"])
            worse("prohibited")
        return Judgement(
            verdict=verdict,
            purpose=purpose,
            rules=tuple(fired),
            immigration_hits=imm_hits,
            by_text=by_text,
            presumed=presumed,
            criminal_documented=criminal_documented,
            ncj_by_code=ncj_by_code,
            uncertain=uncertain,
        )
