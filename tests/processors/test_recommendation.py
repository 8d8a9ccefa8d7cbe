from __future__ import annotations

import pytest

from processors.recommendation import (
    AgencyAccess,
    RecommendationBook,
    RecommendationPolicy,
    apply_alert,
    restore_access,
)
from schemas import Alert, Evidence


def alert(aid: str, severity: str = "high", status: str = "fired", ori: str = "CAICE0100") -> Alert:
    return Alert(
        alert_id=aid,
        rule="r",
        rule_version=1,
        severity=severity,  # type: ignore[arg-type]
        ori=ori,
        key=ori,
        window_start="2024-05-01T19:00:00Z",
        window_end="2024-05-01T19:01:00Z",
        summary="s",
        evidence=Evidence(count=1, event_ids=("e",)),
        status=status,  # type: ignore[arg-type]
    )


def test_normal_watch_suspend_with_the_alerts_that_moved_it() -> None:
    book = RecommendationBook(RecommendationPolicy(watch_after=1, suspend_after=3))
    first = book.apply(alert("a1"))
    assert first is not None and (first.previous, first.level, first.alert_ids) == (
        "normal",
        "watch",
        ("a1",),
    )
    assert book.apply(alert("a2")) is None
    assert book.apply(alert("a2")) is None  # the same alert counts once
    sus = book.apply(alert("a3", "critical"))
    assert sus is not None and sus.level == "suspend" and sus.alert_ids == ("a1", "a2", "a3")
    assert sus.action == "suspend direct access; written requests only"
    assert book.apply(alert("a4")) is None and book.get("CAICE0100").level == "suspend"


def test_uncounted_alerts_do_not_move_it() -> None:
    policy = RecommendationPolicy()
    state, rec = apply_alert(None, alert("w", "warning"), policy)
    assert rec is None and state.level == "normal" and state.counted == 0
    state, rec = apply_alert(state, alert("s", status="suppressed"), policy)
    assert rec is None and state.counted == 0


def test_only_a_human_restores_access() -> None:
    book = RecommendationBook(RecommendationPolicy(watch_after=1, suspend_after=1))
    book.apply(alert("a1", "critical"))
    with pytest.raises(ValueError, match="reason"):
        restore_access(book.get("CAICE0100"), by="", reason="", at="2024-05-02T00:00:00Z")
    rec = book.restore("CAICE0100", by="auditor J. Doe", reason="MOU signed", at="2024-05-02T00:00:00Z")
    assert (rec.previous, rec.level, rec.by) == ("suspend", "normal", "auditor J. Doe")
    assert book.get("CAICE0100") == AgencyAccess(ori="CAICE0100")
    with pytest.raises(ValueError, match="not under watch"):
        book.restore("CAICE0100", by="x", reason="y", at="z")


def test_policy_validation_and_snapshot() -> None:
    with pytest.raises(ValueError):
        RecommendationPolicy(watch_after=3, suspend_after=2)
    with pytest.raises(ValueError, match="unknown"):
        RecommendationPolicy.from_mapping({"suspend_afterr": 2})
    book = RecommendationBook()
    book.apply(alert("a1"))
    other = RecommendationBook()
    other.load(book.snapshot())
    assert other.get("CAICE0100").level == "watch"
