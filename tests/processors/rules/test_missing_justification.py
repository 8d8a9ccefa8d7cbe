from __future__ import annotations

from processors.rules.missing_justification import MissingJustification
from tests.processors.factories import pe, settings, view


def test_fires_when_share_without_reason_or_case_is_high() -> None:
    rule = MissingJustification(settings("missing_justification", threshold=0.5, min_count=4))
    events = [pe(f"n{i}", i, has_reason=False) for i in range(3)] + [pe("ok", 9)]
    [f] = rule.on_window(view(0, events))
    assert f.count == 3 and f.counts["share"] == 0.75 and f.policy_rules == ("POL-1",)


def test_case_number_counts_as_justification_and_min_count_applies() -> None:
    rule = MissingJustification(settings("missing_justification", threshold=0.5, min_count=4))
    with_case = [pe(f"c{i}", i, has_reason=False, has_case_number=True) for i in range(4)]
    assert rule.on_window(view(0, with_case)) == []
    few = [pe(f"n{i}", i, has_reason=False) for i in range(3)]
    assert rule.on_window(view(0, few)) == []
