from __future__ import annotations

import datetime as dt

from processors.rules.repeat_subject import RepeatSubject
from schemas import ProcessedEvent
from tests.processors.factories import LASD, T0, pe, settings, view

DAY = 86400


def lookup(day: int, i: int = 0, *, case: bool = False, subject: str = "s-ex") -> ProcessedEvent:
    return pe(
        f"d{day}-{i}",
        when=T0 + dt.timedelta(days=day, seconds=i),
        operator="op-s",
        subject_key=subject,
        has_case_number=case,
    )


def start(day: int) -> int:
    return int((T0 + dt.timedelta(days=day)).timestamp())


def test_same_subject_on_many_days_without_case_fires() -> None:
    r = RepeatSubject(settings("repeat_subject", min_days=3))
    assert r.on_window(view(start(0), [lookup(0), lookup(0, 1)])) == []
    assert r.on_window(view(start(1), [lookup(1)])) == []
    [f] = r.on_window(view(start(2), [lookup(2)]))
    assert f.key == f"{LASD}:op-s:s-ex" and f.counts == {"days": 3, "lookups": 4}
    assert [e.event_id for e in f.events][:2] == ["d0-0", "d0-1"]  # evidence reaches back across days
    assert r.on_window(view(start(2) + 60, [lookup(2, 70)])) == []  # same day again: nothing new


def test_case_number_or_other_subjects_do_not_count() -> None:
    r = RepeatSubject(settings("repeat_subject", min_days=3))
    for d in range(4):
        assert r.on_window(view(start(d), [lookup(d, case=True), lookup(d, subject=f"s-{d}")])) == []


def test_old_days_age_out() -> None:
    r = RepeatSubject(settings("repeat_subject", min_days=3, lookback_days=5))
    r.on_window(view(start(0), [lookup(0)]))
    r.on_window(view(start(1), [lookup(1)]))
    assert r.on_window(view(start(10), [lookup(10)])) == []
    restored = RepeatSubject(r.settings)
    restored.load_state(r.state_bytes())
    restored.evict(start(40))
    assert restored.state_bytes() == RepeatSubject(r.settings).state_bytes()
