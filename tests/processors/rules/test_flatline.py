from __future__ import annotations

from processors.rules.flatline import Flatline
from tests.processors.factories import LASD, pe, settings, view

OTHER = "CA0380100"


def rule() -> Flatline:
    return Flatline(settings("flatline", baseline_windows=5, min_baseline=3.0, min_active_windows=4))


def busy(w: int, n: int = 5, ori: str = LASD) -> list[object]:
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
