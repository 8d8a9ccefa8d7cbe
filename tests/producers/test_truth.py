from __future__ import annotations

import datetime as dt

import pytest

from processors.agencies import Agency, AgencyRegistry
from producers.truth import TruthLabel, expected_label, has_reason, is_a_number

REGISTRY = AgencyRegistry.load()
ERO = REGISTRY.get("CAICE0100")
HSI = REGISTRY.get("CAHSI0100")
LOCAL = REGISTRY.get("CA0190000")
PT = dt.timezone(dt.timedelta(hours=-7))
BEFORE = dt.datetime(2019, 5, 1, 10, tzinfo=PT)
AFTER = dt.datetime(2019, 10, 15, 0, 0, tzinfo=PT)


def label(
    intent: str,
    *,
    agency: Agency | None = LOCAL,
    source: str = "dmv_license",
    at: dt.datetime = BEFORE,
    code: str | None = None,
    reason: str = "x y",
    case: str | None = None,
) -> TruthLabel:
    return expected_label(
        intent,  # type: ignore[arg-type]  # tests pass intents as plain strings, some unknown on purpose
        agency=agency,
        data_source=source,
        occurred_at=at,
        purpose_code=code,
        reason=reason,
        case_number=case,
    )


def test_immigration_by_source() -> None:
    assert label("immigration_civil") == TruthLabel(
        "immigration_enforcement", "prohibited", ("POL-2b",), True
    )
    ch = label("immigration_criminal", source="criminal_history", code="C")
    assert (ch.purpose, ch.verdict, ch.misuse) == ("immigration_enforcement", "allowed", False)


def test_criminal_intents_allowed() -> None:
    for intent in ("criminal_investigation", "traffic_enforcement", "warrant_service", "routine_patrol"):
        assert (label(intent).purpose, label(intent).verdict) == ("criminal_justice", "allowed")


@pytest.mark.parametrize("intent", ["ccw_permit", "employment_check", "housing_check"])
def test_pol3_code_decides(intent: str) -> None:
    assert label(intent, source="criminal_history", code="C").verdict == "prohibited"
    assert label(intent, source="dmv_license", code=None).verdict == "prohibited"
    ok = label(intent, source="criminal_history", code="F")
    assert (ok.purpose, ok.verdict, ok.clauses) == ("non_criminal_justice", "allowed", ("POL-3",))


def test_pol1_empty_reason_and_no_case() -> None:
    assert label("no_justification", reason="") == TruthLabel("unknown", "review", ("POL-1",), False)
    assert label("routine_patrol", reason="  ").purpose == "unknown"
    assert label("routine_patrol", reason="", case="19-1").verdict == "allowed"


def test_pol2c_ero_presumption_and_its_exceptions() -> None:
    assert label("no_justification", agency=ERO, reason="").verdict == "prohibited"
    assert label("personal", agency=ERO, reason="inv").purpose == "immigration_enforcement"
    assert label("personal", agency=ERO, reason="inv", case="19-12345").purpose == "criminal_justice"
    assert label("personal", agency=ERO, reason="inv", case="A-12345678").purpose == "immigration_enforcement"
    assert label("criminal_investigation", agency=ERO).purpose == "criminal_justice"
    assert label("criminal_investigation", agency=HSI, reason="").purpose == "unknown"


def test_pol2d_after_revocation() -> None:
    late = label("criminal_investigation", agency=ERO, source="criminal_history", code="C", at=AFTER)
    assert late.verdict == "prohibited" and "POL-2d" in late.clauses
    assert label("criminal_investigation", agency=HSI, at=AFTER).verdict == "allowed"


def test_personal_cover_story_is_labelled_by_its_cover_with_misuse_flag() -> None:
    cover = label("personal", reason="veh check")
    assert (cover.purpose, cover.verdict, cover.misuse) == ("criminal_justice", "allowed", True)
    empty = label("personal", reason="")
    assert (empty.verdict, empty.misuse) == ("review", True)
    told = label("personal_disclosed", reason="my ex")
    assert (told.purpose, told.verdict, told.clauses) == ("non_criminal_justice", "prohibited", ("POL-4",))


def test_plain_facts_helpers() -> None:
    assert not has_reason(" n/a ") and not has_reason("..") and has_reason("inv")
    assert is_a_number("A-12345678") and is_a_number("A# 123 456 789") and not is_a_number("19-004512")


def test_unknown_intent() -> None:
    with pytest.raises(ValueError, match="unknown intent"):
        label("golf")
