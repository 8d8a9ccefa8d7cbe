"""One positive and one negative case (at least) for every rule of policy v1."""

from __future__ import annotations

from typing import Final

import pytest

from schemas import Verdict
from tests.processors.policy.builders import (
    ALLOWED_CJ,
    CBP,
    CLF,
    ERO,
    HSI,
    LOCAL,
    POLICY,
    PROHIBITED_IMM,
    PROHIBITED_NCJ,
    Reads,
    cases,
    classify,
    ev,
)

AFTER = "2019-10-15T00:00:00-07:00"


def fired(v: Verdict, prefix: str) -> bool:
    return any(r.startswith(prefix) for r in v.rules)


# ---------------------------------------------------------------- POL-1
@pytest.mark.parametrize("reason", ["", "   ", "\t", "n/a", "N/A", "x", "-", "."])
def test_pol1_no_reason_no_case_is_review_unknown(reason: str) -> None:
    v = classify(reason)
    assert (v.verdict, v.purpose) == ("review", "unknown")
    assert v.rules == ("POL-1.no-justification",)


def test_pol1_case_number_alone_is_a_justification() -> None:
    v = classify("", case="19-004512")
    assert (v.verdict, v.purpose) == ("allowed", "criminal_justice")
    assert not fired(v, "POL-1.no-justification")
    assert fired(v, "POL-1.official-business")


def test_pol1_reason_alone_is_a_justification() -> None:
    assert classify("investigation").verdict == "allowed"


# ---------------------------------------------------------------- POL-2 / POL-2b
# Groups of reasons that must all read the same way: a case per reason, named <group>-<reason>.
GROUPS: Final = (
    Reads(
        "pol2b_immigration_indicator_on_dmv_is_prohibited",
        PROHIBITED_IMM,
        (
            "hold for ice",
            "ICE HOLD",
            "I-247A",
            "1-247",
            "i247 recv",
            "detainer",
            "dtnr lodged",
            "DEPORTATION",
            "deprtation",
            "dprt",
            "removal proceedings",
            "rmvl proc",
            "final order of removal",
            "EOIR hearing",
            "imm court",
            "NTA",
            "notice to appear",
            "I-200 warrant",
            "admin warrant",
            "I-862",
            "OSUP chk",
            "imm status chk",
            "immigration status",
            "visa overstay",
            "ovrstay",
            "FUGOPS tgt",
            "fug ops",
            "ERO target",
            "A# 123456789",
            "A-12345678",
            "A 123 456 789",
            "alien # 123456789",
            "a-file",
            "8 USC 1326",
            "8usc1325",
            "illegal re-entry",
            "illegal entry",
            "undocumented",
            "criminal alien program",
            "req by ICE",
        ),
        fired=("POL-2.immigration-indicator", "POL-2b.prohibited-source"),
    ),
    Reads(
        "other_sense_of_an_ambiguous_word_is_not_immigration",
        ALLOWED_CJ,
        (
            "poss ice 11377",
            "ice pipe",
            "sale of ice",
            "crystal/ice",
            "ice on roadway",
            "veh removal",
            "tow removal 22651",
            "NTA 22350 VC",
            "cited NTA",
            "cap gun",
        ),
    ),
    Reads(
        "immigration_sense_survives_without_cues_and_in_phrases",
        PROHIBITED_IMM,
        (
            "ICE hold poss meth",
            "NTA",
            "rmvl",
            "removal",
            "ICE",
            "I.C.E. hold",
            "removalproceedings",
            "holdforICE",
            "immstatus",
            "CAP screening",
        ),
    ),
    Reads(
        "pol2c_ero_non_criminal_history_without_criminal_case_is_prohibited",
        PROHIBITED_IMM,
        (
            "investigation",
            "info",
            "locate subj",
            "",
            "addr verify",
        ),
        ori=ERO,
        fired=("POL-2c.mission-presumption", "POL-2b.prohibited-source"),
    ),
    Reads(
        "pol4_written_personal_purpose_is_prohibited",
        PROHIBITED_NCJ,
        (
            "personal",
            "checking on my ex wife",
            "for a friend",
            "just curious",
            "celebrity",
        ),
        fired=("POL-4.personal-use",),
    ),
)


@pytest.mark.parametrize(("group", "reason"), cases(GROUPS))
def test_reads_as_its_group(group: Reads, reason: str) -> None:
    group.check(reason)


@pytest.mark.parametrize("mt", ["DQ", "RQ", "QW", "QV", "PAQ", "YQ", "ZZZ"])
def test_pol2b_applies_to_every_source_but_criminal_history(mt: str) -> None:
    assert classify("ICE detainer", mt=mt).verdict == "prohibited"


@pytest.mark.parametrize(
    "reason",
    [
        "traffic stop",
        "I-5 NB pursuit",
        "I-205 SB collision",
        "ice poss for sales",
        "veh removal tow",
        "retainer",
        "PC 1326",
        "warrant svc",
        "USMS fugitive task force",
        "prob status",
        "DL status",
        "HS 11377 meth",
        "alien smuggling load",
        "narcotics",
    ],
)
def test_pol2_negative_no_immigration_indicator(reason: str) -> None:
    v = classify(reason, mt="DQ")
    assert v.purpose != "immigration_enforcement", (reason, v)
    assert v.verdict == "allowed"


def test_pol2_mixed_signal_criminal_beside_immigration_is_immigration() -> None:
    v = classify("DUI arrest / ICE hold", mt="DQ", case="19-12345")
    assert (v.verdict, v.purpose) == ("prohibited", "immigration_enforcement")


def test_pol2_a_number_in_case_number_field_counts() -> None:
    v = classify("locate", mt="DQ", case="A123456789")
    assert v.purpose == "immigration_enforcement"


def test_pol2_agency_prefix_in_case_number_is_not_an_indicator() -> None:
    v = classify("narcotics", mt="DQ", ori=HSI, case="ERO-19-12345")
    assert (v.verdict, v.purpose) == ("allowed", "criminal_justice")


def test_pol2_hsi_narcotics_with_case_number_is_criminal_justice() -> None:
    v = classify("narcotics inv", mt="DQ", ori=HSI, case="HSI-LA-2019-0012")
    assert (v.verdict, v.purpose) == ("allowed", "criminal_justice")


def test_pol2_weak_word_needs_company_or_context() -> None:
    assert classify("alien", mt="DQ").purpose == "criminal_justice"
    assert classify("alien visa", mt="DQ").purpose == "immigration_enforcement"
    assert classify("status chk", mt="DQ", ori=CBP).purpose == "immigration_enforcement"
    assert classify("status chk", mt="DQ", ori=LOCAL).purpose == "criminal_justice"
    assert classify("status chk", mt="DQ", ori=CBP, case="CBP-19-000123").purpose == "criminal_justice"


# ---------------------------------------------------------------- POL-2a
def test_pol2a_criminal_history_stays_allowed_but_immigration_purpose() -> None:
    v = classify("ICE detainer", mt="QH", code="C")
    assert (v.verdict, v.purpose) == ("allowed", "immigration_enforcement")
    assert fired(v, "POL-2a.federal-law-exception") and not fired(v, "POL-2b")


def test_pol2a_negative_not_for_non_criminal_history() -> None:
    assert not fired(classify("ICE detainer", mt="DQ"), "POL-2a")
    assert not fired(classify("traffic stop", mt="QH", code="C"), "POL-2a")


# ---------------------------------------------------------------- POL-2c
@pytest.mark.parametrize(
    "reason,case",
    [
        ("narcotics", None),
        ("investigation", "19-004512"),
        ("PC 459 burglary", None),
        ("inv case# 19-12345", None),
    ],
)
def test_pol2c_negative_ero_documenting_a_criminal_case(reason: str, case: str | None) -> None:
    v = classify(reason, mt="DQ", ori=ERO, case=case)
    assert (v.verdict, v.purpose) == ("allowed", "criminal_justice"), v
    assert not fired(v, "POL-2c")


def test_pol2c_negative_other_components_not_presumed() -> None:
    assert classify("investigation", mt="DQ", ori=HSI).purpose == "criminal_justice"


def test_pol2c_a_number_case_is_not_a_criminal_case() -> None:
    v = classify("investigation", mt="DQ", ori=ERO, case="A-12345678")
    assert v.verdict == "prohibited"


# ---------------------------------------------------------------- POL-2d
def test_pol2d_ero_after_revocation_is_prohibited_whatever_the_purpose() -> None:
    v = classify("narcotics", mt="QH", code="C", ori=ERO, case="19-1234", at=AFTER)
    assert v.verdict == "prohibited"
    assert v.purpose == "criminal_justice"
    assert fired(v, "POL-2d.revoked-access")


def test_pol2d_negative_before_date_and_other_agencies() -> None:
    assert not fired(
        classify("narcotics", mt="QH", code="C", ori=ERO, at="2019-10-14T23:59:59-07:00"), "POL-2d"
    )
    assert not fired(classify("narcotics", mt="QH", code="C", ori=HSI, at=AFTER), "POL-2d")


def test_pol2d_date_is_california_time() -> None:
    # 2019-10-15 06:00 UTC is still 14 Oct 23:00 in California
    assert not fired(classify("narcotics", ori=ERO, at="2019-10-15T06:00:00+00:00"), "POL-2d")
    assert fired(classify("narcotics", ori=ERO, at="2019-10-15T07:00:00+00:00"), "POL-2d")


# ---------------------------------------------------------------- POL-3
@pytest.mark.parametrize(
    "reason",
    [
        "CCW app",
        "ccw renewal",
        "concealed carry permit",
        "pre-employment",
        "applicant bkgd",
        "section 8",
        "housing authority",
        "tenant screening",
        "livescan applicant",
        "security guard app",
    ],
)
@pytest.mark.parametrize("code", ["C", None])
def test_pol3_ncj_under_cj_code_or_no_code_is_prohibited(reason: str, code: str | None) -> None:
    v = classify(reason, mt="QH", code=code)
    assert (v.verdict, v.purpose) == ("prohibited", "non_criminal_justice"), (reason, v)
    assert fired(v, "POL-3.ncj-under-cj-code")


@pytest.mark.parametrize(
    "reason,code", [("CCW app", "F"), ("pre-employment", "I"), ("reserve applicant", "J"), ("section 8", "H")]
)
def test_pol3_ncj_under_its_own_code_is_allowed(reason: str, code: str) -> None:
    v = classify(reason, mt="QH", code=code)
    assert (v.verdict, v.purpose) == ("allowed", "non_criminal_justice")
    assert fired(v, "POL-3.ncj-own-code") and not fired(v, "POL-3.ncj-under-cj-code")


def test_pol3_negative_criminal_purpose_under_c() -> None:
    v = classify("burglary susp", mt="QH", code="C")
    assert (v.verdict, v.purpose) == ("allowed", "criminal_justice")
    assert not fired(v, "POL-3")


def test_pol3_negative_ccw_offence_is_criminal() -> None:
    assert classify("ccw arrest 25400 PC", mt="QH", code="C").purpose == "criminal_justice"


# ---------------------------------------------------------------- POL-4
def test_pol4_negative_relationship_in_a_criminal_case() -> None:
    v = classify("DV susp ex-husband", case="19-5512")
    assert v.verdict == "allowed" and not fired(v, "POL-4")


def test_pol4_negative_routine_reason() -> None:
    assert not fired(classify("suspicious person"), "POL-4")


# ---------------------------------------------------------------- combination and stamping
def test_strictest_wins_review_over_allowed() -> None:
    v = classify("", mt="QH", code="C", ori=ERO)  # POL-2a allows, POL-1 asks for review
    assert v.verdict == "review"
    assert v.purpose == "immigration_enforcement"


def test_verdict_is_stamped_and_names_data_source() -> None:
    v = CLF.classify(ev("traffic stop", mt="RQ"))
    assert v.policy_version == POLICY.version == "1"
    assert v.data_source == "dmv_registration"
    assert v.event_id == "ev-1"


def test_unknown_agency_is_classified_by_text() -> None:
    v = classify("ICE hold", ori="CA9999999")
    assert (v.verdict, v.purpose) == ("prohibited", "immigration_enforcement")
    assert classify("traffic stop", ori="CA9999999").verdict == "allowed"


def test_explain_lists_every_rule_once_and_agrees_with_classify() -> None:
    event = ev("ICE detainer", mt="DQ")
    verdict, traces = CLF.explain(event)
    assert verdict == CLF.classify(event)
    ids = [t.rule_id for t in traces]
    assert sorted(ids) == sorted(r.id for r in POLICY.rules.values())
    assert {t.rule_id for t in traces if t.fired} == set(verdict.rules)
    by_id = {t.rule_id: t for t in traces}
    assert "IMM-DETAINER" in by_id["POL-2.immigration-indicator"].detail
    assert all(t.clause.startswith("POL-") and t.description for t in traces)


# ---------------------------------------------------------------- reading the reason text
def test_glued_short_pieces_count_only_in_phrases() -> None:
    # "justice" splits into just + ice: a three-letter piece is not the agency on its own
    assert classify("justice dept req", mt="DQ").purpose == "criminal_justice"
