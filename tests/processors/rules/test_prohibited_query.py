from __future__ import annotations

from processors.rules.prohibited_query import ProhibitedQuery
from tests.processors.factories import DHS_ORI, pe, settings, view


def test_fires_per_prohibited_event_with_policy_clauses() -> None:
    rule = ProhibitedQuery(settings("prohibited_query"))
    ev = pe(
        "e1",
        5,
        ori=DHS_ORI,
        verdict="prohibited",
        data_source="dmv_license",
        message_type="DQ",
        purpose="immigration_enforcement",
        rules=("POL-2", "POL-2b"),
        source="t/0/9",
    )
    [f] = rule.on_event(ev, 0, 60)
    assert (f.key, f.ori, f.window_start, f.window_end, f.count) == ("e1", DHS_ORI, 0, 60, 1)
    assert f.policy_rules == ("POL-2", "POL-2b") and f.events[0].source == "t/0/9"
    assert "POL-2b" in f.summary


def test_silent_for_allowed_and_review() -> None:
    rule = ProhibitedQuery(settings("prohibited_query"))
    assert rule.on_event(pe("a", verdict="allowed"), 0, 60) == []
    assert rule.on_event(pe("b", verdict="review"), 0, 60) == []
    # per event only: a closed window does not alert again
    assert rule.on_window(view(0, [pe("c", verdict="prohibited")])) == []
