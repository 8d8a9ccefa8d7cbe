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
