"""Issue 12, round 3: rules and vocabulary classes that generalise the round-2 misses.

The phrasings here are written for these tests (unseen variants of each kind), not copied from the
development sets.
"""

from __future__ import annotations

import pytest

from processors.policy import load_policy
from processors.policy.signals import SignalReader
from tests.processors.policy.test_reading import outcome

READER = SignalReader(load_policy())


@pytest.mark.parametrize(
    "reason",
    [
        "CHS vetting for OCDETF case",
        "vetting CI #4471 - narcotics investigation",
        "background on confidential source, meth case",
        "SOI screening, gang case",
    ],
)
def test_vetting_an_informant_is_part_of_a_criminal_case(reason: str) -> None:
    assert outcome(reason, mt="QH", code="C") == ("allowed", "criminal_justice")


def test_vetting_without_an_informant_is_still_employment() -> None:
    assert outcome("dispatcher applicant vetting", mt="QH", code="C") == (
        "prohibited",
        "non_criminal_justice",
    )


@pytest.mark.parametrize(
    "reason",
    [
        "Canadian licence - tourist, speeding",
        "intl licence, rental veh, TC",
        "rental car - driver's foreign lic",
        "rental SUV involved in hit and run",
    ],
)
def test_a_foreign_licence_or_a_rental_car_is_traffic(reason: str) -> None:
    assert outcome(reason, mt="DQ") == ("allowed", "criminal_justice")


def test_rental_housing_stays_non_criminal_justice() -> None:
    assert outcome("rental application - prospective tenant", mt="QH", code="C")[1] == "non_criminal_justice"


@pytest.mark.parametrize(
    "reason",
    [
        "pawn shop inspection - serial numbers",
        "found property - owner application to claim",
        "secondhand dealer s/n chk",
    ],
)
def test_property_and_dealer_inspections_are_police_work(reason: str) -> None:
    assert outcome(reason, mt="QA") == ("allowed", "criminal_justice")


@pytest.mark.parametrize(
    "reason", ["22450 A ran stop", "4000.A no current reg", "12500 a no lic", "5200.a front plate"]
)
def test_a_subsection_letter_set_off_by_a_space_or_dot_is_part_of_the_section(reason: str) -> None:
    sig = READER.read(reason)
    assert sig.statutes, reason
    assert not sig.of("immigration"), reason
    assert outcome(reason, mt="RQ") == ("allowed", "criminal_justice")


def test_an_a_number_is_still_read_after_a_letter_marker() -> None:
    assert outcome("A 212345678 locate", mt="DQ") == ("prohibited", "immigration_enforcement")


@pytest.mark.parametrize(
    "reason",
    [
        "absconder, PRCS - flash incarceration",
        "probation absconder 1203.2",
        "absconder - parole agent request",
    ],
)
def test_a_supervision_absconder_is_criminal_justice(reason: str) -> None:
    assert outcome(reason, mt="PPQ") == ("allowed", "criminal_justice")


@pytest.mark.parametrize(
    "reason",
    [
        "S-Comm match - verify before release",
        "tcap notice, inmate release date",
        "I-294 served - last known addr",
        "I-860 expedited - locate",
        "a-file 203-114-872 address",
    ],
)
def test_immigration_jargon_programmes_forms_and_dashed_a_files(reason: str) -> None:
    assert outcome(reason, mt="DQ") == ("prohibited", "immigration_enforcement")


def test_an_interstate_is_not_an_immigration_form() -> None:
    assert outcome("I-210 EB collision, veh info", mt="RQ") == ("allowed", "criminal_justice")


def test_the_digits_of_a_form_or_file_number_are_no_code_section() -> None:
    assert not READER.read("I-166 mailed").statutes


@pytest.mark.parametrize("reason", ["prior 245 conviction - removal", "removal, convicted 11352 HS"])
def test_removal_beside_the_subjects_record_is_immigration(reason: str) -> None:
    assert outcome(reason, mt="QH", code="C") == ("allowed", "immigration_enforcement")
    assert outcome(reason, mt="DQ") == ("prohibited", "immigration_enforcement")


def test_removal_beside_a_case_being_worked_stays_uncertain() -> None:
    assert outcome("removal - 245 case 19-001234", mt="DQ")[0] == "review"


@pytest.mark.parametrize(
    "reason",
    [
        "taxicab permit renewal",
        "tow franchise applicant - owner",
        "city board appointment - background",
        "emergency placement with aunt - adults in home",
        "kinship placement, WIC 309",
    ],
)
def test_franchises_appointments_and_placements_are_non_criminal_justice(reason: str) -> None:
    assert outcome(reason, mt="DQ") == ("prohibited", "non_criminal_justice")


def test_material_support_is_a_federal_offence_even_at_an_immigration_component() -> None:
    assert outcome("JTTF - 18 USC 2339A case", mt="DQ", ori="CAICE0200") == ("allowed", "criminal_justice")


@pytest.mark.parametrize(
    "reason",
    [
        "my tags current?",
        "my own registration - smog due",
        "my insurance lapsed? check",
        "for my divorce mediation",
        "my neighbor - parking dispute",
        "noise complaint - my upstairs neighbor",
        "custody battle - my daughter's dad's gf",
    ],
)
def test_the_operators_own_things_relations_and_civil_matters_are_personal(reason: str) -> None:
    assert outcome(reason, mt="DQ") == ("prohibited", "non_criminal_justice")


@pytest.mark.parametrize(
    "reason",
    ["sister's car - she isn't picking up", "husband's new coworker", "brother's girlfriend's plate"],
)
def test_a_relations_possession_as_the_subject_is_personal(reason: str) -> None:
    assert outcome(reason, mt="RQ") == ("prohibited", "non_criminal_justice")


@pytest.mark.parametrize(
    "reason",
    [
        "new lieutenant from another agency - what's her story",
        "college roommate, long lost - reconnecting",
        "ex coworker, what is she up to these days",
        "that singer cited on TMZ",
        "journalist who criticized the dept",
    ],
)
def test_curiosity_about_colleagues_friends_and_public_figures_is_personal(reason: str) -> None:
    assert outcome(reason, mt="QH", code="C") == ("prohibited", "non_criminal_justice")


@pytest.mark.parametrize(
    "reason",
    [
        "inmate in my custody - booking",
        "my ex partner's case, 459 fu",
        "husband's car stolen 10851",
        "DV - susp is victim's ex-husband",
        "reporter witness to 211 at bank",
        "my reg stop - 4000a",
        "my TC, other party DL",
    ],
)
def test_official_possessives_and_case_parties_stay_criminal_justice(reason: str) -> None:
    assert outcome(reason, mt="QH", code="C") == ("allowed", "criminal_justice")
