from __future__ import annotations

import random

import pytest

from processors.agencies import AgencyRegistry
from producers.reasons import (
    INTENTS,
    Justification,
    UnknownIntent,
    a_number,
    case_number,
    make_justification,
    typo,
)

REGISTRY = AgencyRegistry.load()
ERO = REGISTRY.get("CAICE0100")
LOCAL = REGISTRY.get("CA0190000")


def test_deterministic_for_a_seed() -> None:
    a = [
        make_justification(
            random.Random(7), i, agency=LOCAL, message_type="QH", data_source="criminal_history"
        )
        for i in INTENTS
    ]
    b = [
        make_justification(
            random.Random(7), i, agency=LOCAL, message_type="QH", data_source="criminal_history"
        )
        for i in INTENTS
    ]
    assert a == b and all(isinstance(j, Justification) for j in a)


def test_many_phrasings_per_purpose_and_short_reasons() -> None:
    rng = random.Random(1)
    for intent in INTENTS:
        reasons = {
            make_justification(rng, intent, agency=LOCAL, message_type="DQ", data_source="dmv_license").reason
            for _ in range(300)
        }
        assert len(reasons) >= (5 if intent == "no_justification" else 25), intent
        assert all(len(r) <= 60 for r in reasons)


def test_no_justification_has_no_case_number_and_no_text() -> None:
    rng = random.Random(2)
    for _ in range(200):
        j = make_justification(
            rng, "no_justification", agency=LOCAL, message_type="DQ", data_source="dmv_license"
        )
        assert j.case_number is None
        assert not any(c.isalpha() for c in j.reason) or j.reason.strip().lower() in {
            "n/a",
            "na",
            "none",
            "x",
        }


def test_purpose_codes_only_on_criminal_history_and_ncj_codes_vary() -> None:
    rng = random.Random(3)
    codes = {
        make_justification(
            rng, "ccw_permit", agency=LOCAL, message_type="QH", data_source="criminal_history"
        ).purpose_code
        for _ in range(200)
    }
    assert codes == {"C", "F"}
    dmv = {
        make_justification(
            rng, "ccw_permit", agency=LOCAL, message_type="DQ", data_source="dmv_license"
        ).purpose_code
        for _ in range(50)
    }
    assert dmv == {None}


def test_styles_typos_casing_a_numbers_and_empty_reasons_occur() -> None:
    rng = random.Random(4)
    civil = [
        make_justification(rng, "immigration_civil", agency=ERO, message_type="DQ", data_source="dmv_license")
        for _ in range(1000)
    ]
    texts = [j.reason for j in civil]
    assert any(t.isupper() for t in texts) and any(t.islower() for t in texts)
    assert any(t.strip() == "" for t in texts)  # ERO boilerplate/empty
    assert any("A" in (j.case_number or "") for j in civil)
    assert sum(1 for t in texts if t.upper().startswith(("ATTN", "RE", "PER", "REQ"))) > 5


def test_a_numbers_and_case_numbers() -> None:
    rng = random.Random(5)
    for _ in range(100):
        digits = "".join(c for c in a_number(rng) if c.isdigit())
        assert len(digits) in (8, 9)
    assert len({case_number(rng, LOCAL) for _ in range(50)}) > 40


def test_typo_changes_one_letter_and_keeps_the_first() -> None:
    rng = random.Random(6)
    for _ in range(100):
        t = typo(rng, "detainer")
        assert t[0] == "d" and abs(len(t) - 8) <= 1


def test_unknown_intent_is_rejected() -> None:
    with pytest.raises(UnknownIntent):
        make_justification(
            random.Random(0),
            "golf",  # type: ignore[arg-type]  # an unknown intent on purpose
            agency=None,
            message_type="DQ",
            data_source="dmv_license",
        )
