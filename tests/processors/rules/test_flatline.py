from __future__ import annotations

from processors.rules.flatline import Flatline
from schemas import ProcessedEvent
from tests.processors.factories import LASD, pe, settings, view

OTHER = "CA0380100"


def rule(silent_windows: int = 1, min_expected: float = 0) -> Flatline:
    """Five windows of baseline (four active, 3 a window on average)."""
    return Flatline(
        settings(
            "flatline",
            baseline_windows=5,
            min_baseline=3.0,
            min_active_windows=4,
            silent_windows=silent_windows,
            min_expected=min_expected,
        )
    )


def busy(w: int, n: int = 5, ori: str = LASD) -> list[ProcessedEvent]:
    return [pe(f"{ori}-{w}-{i}", w * 60 + i, ori=ori) for i in range(n)]


def test_silence_after_steady_traffic_alerts_once() -> None:
    r = rule()
    for w in range(5):
        assert r.on_window(view(w * 60, busy(w) + busy(w, 1, OTHER))) == []
    assert r.wants_empty_window(300)
    [f] = r.on_window(view(300, busy(5, 1, OTHER)))
    assert f.key == LASD and f.count == 0 and f.counts["baseline_mean"] == 5.0
    assert r.on_window(view(360, [])) == []  # still silent: reported when it began


def test_low_or_short_baseline_is_quiet() -> None:
    r = rule()
    for w in range(5):
        r.on_window(view(w * 60, busy(w, 1)))  # one query per window: below min_baseline
    assert not r.wants_empty_window(300)
    assert r.on_window(view(300, [])) == []


def test_state_round_trips() -> None:
    r = rule()
    for w in range(5):
        r.on_window(view(w * 60, busy(w)))
    restored = rule()
    restored.load_state(r.state_bytes())
    assert len(restored.on_window(view(300, []))) == 1


def test_silence_must_last_silent_windows_and_miss_enough_expected_queries() -> None:
    r = rule(silent_windows=3, min_expected=12)  # three windows missing 12 expected queries
    for w in range(5):
        assert r.on_window(view(w * 60, busy(w) + busy(w, 1, OTHER))) == []
    assert r.on_window(view(300, busy(5, 1, OTHER))) == []  # one quiet window: chance, not a silence
    assert r.on_window(view(360, busy(6, 1, OTHER))) == []
    [f] = r.on_window(view(420, busy(7, 1, OTHER)))  # three in a row, 15 queries expected
    assert f.key == LASD and f.window_start == 300 and f.window_end == 480
    assert f.counts["silent_windows"] == 3 and f.counts["expected"] == 15.0
    assert r.on_window(view(480, busy(8, 1, OTHER))) == []  # the same silence goes on: reported once


def test_short_gap_between_queries_is_not_a_silence() -> None:
    r = rule(silent_windows=3, min_expected=12)  # three windows missing 12 expected queries
    for w in range(5):
        r.on_window(view(w * 60, busy(w)))
    assert r.on_window(view(300, [])) == []
    assert r.on_window(view(360, busy(6))) == []  # back before the span was silent
    assert r.on_window(view(420, [])) == []
