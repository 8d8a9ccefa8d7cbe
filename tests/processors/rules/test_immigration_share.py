from __future__ import annotations

import pytest

from processors.rules.base import RuleConfigError
from processors.rules.immigration_share import ImmigrationShare
from schemas import ProcessedEvent
from tests.processors.factories import LASD, pe, settings, view


def imm(i: int) -> ProcessedEvent:
    return pe(f"i{i}", i, purpose="immigration_enforcement", rules=("POL-2", "POL-2a"))


def test_fires_over_threshold_with_min_count() -> None:
    rule = ImmigrationShare(settings("immigration_share", threshold=0.5, min_count=3))
    events = [imm(i) for i in range(3)] + [pe("c1", 10), pe("c2", 11)]
    [f] = rule.on_window(view(0, events))
    assert f.key == LASD and f.count == 3
    assert f.counts == {"immigration_enforcement": 3, "total": 5, "share": 0.6}
    assert f.policy_rules == ("POL-2", "POL-2a")
    assert [r.event_id for r in f.events] == ["i0", "i1", "i2"]


def test_below_threshold_or_min_count_is_quiet() -> None:
    rule = ImmigrationShare(settings("immigration_share", threshold=0.5, min_count=3))
    assert rule.on_window(view(0, [imm(0), imm(1)])) == []  # share 100% but only 2
    assert rule.on_window(view(0, [imm(i) for i in range(3)] + [pe(f"c{i}", i) for i in range(4)])) == []


def test_bad_threshold_is_a_config_error() -> None:
    with pytest.raises(RuleConfigError, match="threshold"):
        ImmigrationShare(settings("immigration_share", threshold=1.5))
    with pytest.raises(RuleConfigError, match="unknown parameter"):
        ImmigrationShare(settings("immigration_share", thresold=0.5))
