from __future__ import annotations

from processors.rules.new_term import NewTerm
from tests.processors.factories import LASD, pe, settings, view


def rule() -> NewTerm:
    return NewTerm(settings("new_term", min_history_events=5, min_history_days=0, history_days=1))


def test_new_data_source_after_history_fires() -> None:
    r = rule()
    assert r.on_window(view(0, [pe(f"h{i}", i) for i in range(6)])) == []  # builds history
    found = r.on_window(view(60, [pe("n1", 61, data_source="dmv_license", message_type="DQ"), pe("h9", 62)]))
    assert sorted(f.key for f in found) == [f"{LASD}:data_source=dmv_license", f"{LASD}:message_type=DQ"]
    assert all(f.count == 1 and f.events[0].event_id == "n1" for f in found)
    assert r.on_window(view(120, [pe("n2", 121, data_source="dmv_license", message_type="DQ")])) == []


def test_no_history_no_alert_and_terms_forgotten() -> None:
    r = rule()
    assert r.on_window(view(0, [pe("a", 1, data_source="dmv_license")])) == []  # no history yet
    r.on_window(view(60, [pe(f"h{i}", 61 + i) for i in range(6)]))
    r.evict(60 + 2 * 86400)
    assert r.state_bytes() == NewTerm(r.settings).state_bytes()  # everything aged out


def test_history_must_span_min_history_days_before_terms_are_new() -> None:
    r = NewTerm(settings("new_term", min_history_events=5, min_history_days=1, history_days=30))
    assert r.on_window(view(0, [pe(f"h{i}", i) for i in range(6)])) == []
    # enough events, but only an hour of history: still learning
    assert r.on_window(view(3600, [pe("n1", 3601, data_source="dmv_license", message_type="DQ")])) == []
    found = r.on_window(view(86400, [pe("n2", 86401, data_source="corrections", message_type="PAQ")]))
    assert sorted(f.key for f in found) == [f"{LASD}:data_source=corrections", f"{LASD}:message_type=PAQ"]
