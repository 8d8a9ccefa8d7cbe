from __future__ import annotations

import pytest

from processors.dead_letter_limit import DeadLetterLimit, DeadLetterLimitExceeded


def test_scattered_bad_input_is_tolerated() -> None:
    limit = DeadLetterLimit(max_ratio=0.5, window=100)
    for _ in range(50):
        limit.record(good=9, bad=1)
    assert limit.ratio == pytest.approx(0.1)


def test_mostly_bad_input_stops_with_a_reason() -> None:
    limit = DeadLetterLimit(max_ratio=0.5, window=100)
    limit.record(good=60, bad=0)
    with pytest.raises(DeadLetterLimitExceeded, match=r"61 of the last 121 messages were bad input"):
        for _ in range(100):
            limit.record(good=0, bad=1)


def test_a_big_mixed_batch_is_judged_by_its_share_not_by_its_order() -> None:
    limit = DeadLetterLimit(max_ratio=0.8, window=2000)
    for _ in range(5):
        limit.record(good=1700, bad=3300)  # 66% bad, in batches larger than the window
    assert limit.ratio == pytest.approx(0.66)


def test_not_judged_before_the_window_is_full() -> None:
    limit = DeadLetterLimit(max_ratio=0.5, window=100)
    limit.record(good=0, bad=99)  # a bad start, but too few messages to judge
    assert limit.ratio == 1.0


def test_ratio_one_never_stops_and_bad_values_are_refused() -> None:
    limit = DeadLetterLimit(max_ratio=1.0, window=10)
    limit.record(good=0, bad=100)
    assert limit.ratio == 1.0
    with pytest.raises(ValueError, match="ratio"):
        DeadLetterLimit(max_ratio=0)
    with pytest.raises(ValueError, match="window"):
        DeadLetterLimit(window=0)
