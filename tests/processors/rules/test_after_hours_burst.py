from __future__ import annotations

import datetime as dt

import pytest

from processors.rules.after_hours_burst import AfterHoursBurst, within_hours
from processors.rules.base import RuleConfigError
from schemas import ProcessedEvent
from tests.processors.factories import LASD, pe, settings, view

NIGHT = dt.datetime(2024, 5, 2, 9, 30, tzinfo=dt.UTC)  # 02:30 in Los Angeles
NIGHT_S = int(NIGHT.timestamp()) // 60 * 60


def night(i: int, operator: str = "op-n", ori: str = LASD) -> ProcessedEvent:
    return pe(f"n{i}", when=NIGHT + dt.timedelta(seconds=i), operator=operator, ori=ori)


def test_burst_outside_usual_hours_fires() -> None:
    rule = AfterHoursBurst(settings("after_hours_burst", min_count=3))
    [f] = rule.on_window(view(NIGHT_S, [night(i) for i in range(3)] + [night(9, "op-other")]))
    assert f.key == f"{LASD}:op-n" and f.count == 3 and "02:30 local" in f.summary


def test_daytime_and_small_bursts_are_quiet() -> None:
    rule = AfterHoursBurst(settings("after_hours_burst", min_count=3))
    noon = [pe(f"d{i}", i) for i in range(10)]  # 12:00 Los Angeles
    assert rule.on_window(view(0, noon)) == []
    assert rule.on_window(view(NIGHT_S, [night(i) for i in range(2)])) == []


def test_agency_hours_override() -> None:
    rule = AfterHoursBurst(settings("after_hours_burst", min_count=3, agency_hours=[f"{LASD} 0 24"]))
    assert rule.on_window(view(NIGHT_S, [night(i) for i in range(5)])) == []
    rule = AfterHoursBurst(settings("after_hours_burst", min_count=3, agency_hours=[f"{LASD} 22 6"]))
    assert rule.on_window(view(NIGHT_S, [night(i) for i in range(5)])) == []  # night shift agency


def test_within_hours_and_bad_config() -> None:
    assert within_hours(6, 6, 22) and not within_hours(22, 6, 22) and not within_hours(3, 6, 22)
    assert within_hours(23, 22, 6) and within_hours(2, 22, 6) and not within_hours(12, 22, 6)
    with pytest.raises(RuleConfigError, match="timezone"):
        AfterHoursBurst(settings("after_hours_burst", timezone="Mars/Olympus"))
    with pytest.raises(RuleConfigError, match="ORI START END"):
        AfterHoursBurst(settings("after_hours_burst", agency_hours=["CA0190000 6"]))
