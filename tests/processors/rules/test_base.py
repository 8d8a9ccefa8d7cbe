"""What the rules share (processors/rules/base.py): parameter floors, grouping, findings."""

from __future__ import annotations

import pytest

from processors.rules import CATALOGUE
from processors.rules.base import RuleConfigError, group_by, refs
from tests.processors.factories import LASD, pe, settings, view


@pytest.mark.parametrize(
    ("rule_id", "param", "floor", "others"),
    [
        ("cardinality", "max_distinct_subjects", 2, {}),
        ("immigration_share", "min_count", 1, {}),
        ("missing_justification", "min_count", 1, {}),
        ("dmv_by_dhs_surge", "span_windows", 1, {}),
        ("dmv_by_dhs_surge", "reference_windows", 1, {}),
        ("flatline", "silent_windows", 1, {}),
        ("flatline", "baseline_windows", 1, {"min_active_windows": 1}),
    ],
)
def test_a_parameter_below_its_floor_is_refused_naming_rule_parameter_and_value(
    rule_id: str, param: str, floor: int, others: dict[str, int]
) -> None:
    with pytest.raises(RuleConfigError) as info:
        CATALOGUE[rule_id](settings(rule_id, **{param: floor - 1}))
    assert str(info.value) == f"rule {rule_id}: {param} must be >= {floor}, got {floor - 1}"
    CATALOGUE[rule_id](settings(rule_id, **others, **{param: floor}))  # the floor itself is allowed


def test_unknown_timezone_names_the_rule() -> None:
    for rule_id in ("after_hours_burst", "repeat_subject"):
        with pytest.raises(RuleConfigError, match=f"rule {rule_id}: unknown timezone 'Mars/Base'"):
            CATALOGUE[rule_id](settings(rule_id, timezone="Mars/Base"))


def test_group_by_keeps_event_order_within_a_group_and_sorts_the_groups() -> None:
    events = [pe("e1", 1, operator="b"), pe("e2", 2, operator="a"), pe("e3", 3, operator="b")]
    groups = group_by(events, lambda e: e.operator)
    assert [(k, [e.event_id for e in g]) for k, g in groups] == [("a", ["e2"]), ("b", ["e1", "e3"])]


def test_a_window_finding_defaults_its_key_to_the_ori_and_its_count_to_the_events() -> None:
    events = [pe("e1", 1), pe("e2", 2)]
    window = view(0, events)
    f = window.finding(LASD, "s", refs(events), {"n": 2})
    assert (f.key, f.ori, f.window_start, f.window_end, f.count) == (LASD, LASD, 0, 60, 2)
    g = window.finding(LASD, "s", refs(events), {}, key="k", count=7, policy_rules=("POL-4",))
    assert (g.key, g.count, g.policy_rules) == ("k", 7, ("POL-4",))
