"""Rule-by-rule traces of one decision: each rule considered, whether it fired, and why."""

from __future__ import annotations

from processors.policy.decision import Decision, RuleTrace
from processors.policy.model import Policy
from processors.policy.signals import Hit


def _hits(hits: tuple[Hit, ...]) -> str:
    return ", ".join(
        f"{h.indicator}={h.matched!r}" + (" (case number)" if h.field == "case_number" else "") for h in hits
    )


def traces(policy: Policy, d: Decision) -> list[RuleTrace]:
    sig, j = d.signals, d.judgement
    comp = d.agency.component if d.agency else None
    who = f"{d.agency.name} ({comp or d.agency.kind})" if d.agency else "unknown agency (ORI not in registry)"
    out: list[RuleTrace] = []

    def add(kind: str, detail: str) -> None:
        rule = policy.rule(kind)
        out.append(RuleTrace(rule.id, rule.description, rule.clause, rule.id in d.fired, detail))

    justification = []
    if sig.has_reason:
        justification.append("a reason")
    if d.case.present:
        justification.append("a case number")
    add(
        "no_justification",
        "justified by " + " and ".join(justification)
        if justification
        else "reason has no informative word (empty or a placeholder) and there is no case number",
    )
    add(
        "justified",
        "purpose criminal justice"
        if policy.rule("justified").id in d.fired
        else f"purpose is {d.verdict.purpose}",
    )
    weak = sig.of("immigration", "weak") + sig.of("immigration", "context")
    if j.by_text:
        detail = "indicators: " + _hits(j.immigration_hits)
    elif sig.of("immigration"):
        detail = f"only weak indicators ({_hits(weak)}), not enough" + (
            " beside a documented criminal case" if j.criminal_documented else " without agency context"
        )
    else:
        detail = "no immigration indicator in reason or case number"
    if sig.vetoed:
        detail += (
            f"; set aside beside {sig.role!r} (a victim, witness, scam or property case about immigrants "
            f"or their documents, not enforcement): {_hits(sig.vetoed)}"
        )
    add("immigration_indicator", detail)
    if j.presumed:
        detail = f"{who} documents no criminal case"
    elif comp in policy.presumption_components:
        detail = "criminal case documented" if j.criminal_documented else "purpose already shown by the text"
    else:
        detail = f"{who} is not one of the components {', '.join(sorted(policy.presumption_components))}"
    add("mission_presumption", detail)
    is_imm = d.verdict.purpose == "immigration_enforcement"
    add(
        "federal_law_exception",
        f"data source {d.data_source}" + ("" if is_imm else "; purpose is not immigration"),
    )
    add(
        "prohibited_source",
        f"data source {d.data_source}" + ("" if is_imm else "; purpose is not immigration"),
    )
    if d.revoked_since is None:
        detail = f"{who} has no revoked access"
    else:
        detail = f"access revoked since {d.revoked_since}" + ("" if d.revoked else " (event is earlier)")
    add("revoked_access", detail)
    ncj = sig.of("non_criminal_justice")
    code = d.purpose_code or "none"
    if ncj or j.ncj_by_code:
        detail = (f"non-criminal-justice indicators {_hits(ncj)}; " if ncj else "") + f"purpose code {code}"
        if ncj and sig.of("criminal_offence"):
            detail += "; a criminal offence is written (a party word gives way to it, a licence/permit act does not)"
    else:
        detail = f"no non-criminal-justice indicator; purpose code {code}"
    add("ncj_under_cj_code", detail)
    add("ncj_own_code", detail)
    personal = sig.of("personal")
    if personal:
        detail = "personal indicators " + _hits(personal)
    else:
        detail = "no personal-use indicator (POL-4 is mostly found by patterns, not text)"
    add("personal_use", detail)
    moderate = sig.of("immigration", "moderate")
    add(
        "uncertain",
        f"ambiguous cue {_hits(moderate)} beside a written offence"
        if j.uncertain
        else "no ambiguous immigration cue beside a written offence",
    )
    return out


def statute_lines(d: Decision) -> list[str]:
    """The statute-table lookups for the reason's code sections (``explain`` prints them)."""
    return [ref.describe() for ref in d.signals.statutes]
