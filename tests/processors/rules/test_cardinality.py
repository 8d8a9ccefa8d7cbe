from __future__ import annotations

from processors.rules.cardinality import Cardinality
from tests.processors.factories import LASD, pe, settings, view


def test_operator_with_many_distinct_subjects_fires() -> None:
    rule = Cardinality(settings("cardinality", max_distinct_subjects=5))
    events = [pe(f"e{i}", i, operator="op-x", subject_key=f"s-{i % 5}") for i in range(7)]
    events += [pe(f"o{i}", i, operator="op-y", subject_key="s-1") for i in range(7)]
    [f] = rule.on_window(view(0, events))
    assert f.key == f"{LASD}:op-x" and f.counts == {"distinct_subjects": 5, "queries": 7}


def test_below_limit_and_no_subject_is_quiet() -> None:
    rule = Cardinality(settings("cardinality", max_distinct_subjects=5))
    events = [pe(f"e{i}", i, subject_key=f"s-{i}") for i in range(4)]
    events += [pe(f"n{i}", i, subject_key=None) for i in range(10)]
    assert rule.on_window(view(0, events)) == []
