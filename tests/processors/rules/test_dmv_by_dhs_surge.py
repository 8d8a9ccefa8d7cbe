from __future__ import annotations

from processors.rules.dmv_by_dhs_surge import DmvByDhsSurge
from schemas import ProcessedEvent
from tests.processors.factories import DHS_ORI, LASD, pe, settings, view


def dmv(prefix: str, n: int, start: int, ori: str = DHS_ORI) -> list[ProcessedEvent]:
    return [
        pe(
            f"{prefix}{i}",
            start + i % 60,
            ori=ori,
            data_source="dmv_license" if i % 2 else "dmv_registration",
            message_type="DQ" if i % 2 else "RQ",
        )
        for i in range(n)
    ]


def rule(**params: object) -> DmvByDhsSurge:
    p = {
        "reference_windows": 5,
        "span_windows": 1,
        "spike_height": 3.0,
        "min_reference": 1.0,
        "min_count": 6,
        **params,
    }
    return DmvByDhsSurge(settings("dmv_by_dhs_surge", **p))


def test_surge_over_own_baseline_fires() -> None:
    r = rule()
    for w in range(5):
        assert r.on_window(view(w * 60, dmv(f"b{w}-", 2, w * 60))) == []
    [f] = r.on_window(view(300, dmv("s", 12, 300)))
    assert f.key == DHS_ORI and f.count == 12
    assert f.counts["baseline_mean"] == 2.0 and f.counts["ratio"] == 6.0
    assert f.counts["dmv_license"] + f.counts["dmv_registration"] == 12


def test_burst_counted_over_the_span_of_windows() -> None:
    r = rule(span_windows=3, min_count=10, reference_windows=5)
    for w in range(5):
        assert r.on_window(view(w * 60, dmv(f"b{w}-", 1, w * 60))) == []  # baseline 1 per window
    assert r.on_window(view(300, dmv("s0-", 4, 300))) == []  # 4 in the span so far
    assert r.on_window(view(360, dmv("s1-", 4, 360))) == []  # 9 (1 + 4 + 4): under min_count 10
    [f] = r.on_window(view(420, dmv("s2-", 4, 420)))  # 12 over 3 windows vs baseline 3
    assert f.count == 12 and f.counts["dmv_in_window"] == 4 and f.counts["ratio"] == 4.0


def test_high_baseline_is_not_a_spike() -> None:
    r = rule()
    for w in range(5):
        r.on_window(view(w * 60, dmv(f"b{w}-", 10, w * 60)))
    assert r.on_window(view(300, dmv("s", 20, 300))) == []  # 2x baseline only


def test_only_dhs_components_and_min_count() -> None:
    r = rule()
    assert r.on_window(view(0, dmv("p", 30, 0, ori=LASD))) == []
    assert r.on_window(view(60, dmv("s", 5, 60))) == []  # under min_count


def test_state_round_trips_and_is_evicted() -> None:
    r = rule()
    for w in range(5):
        r.on_window(view(w * 60, dmv(f"b{w}-", 4, w * 60)))
    restored = rule()
    restored.load_state(r.state_bytes())
    assert restored.baseline(DHS_ORI, 300) == r.baseline(DHS_ORI, 300) == 4.0
    restored.evict(10_000)
    assert restored.baseline(DHS_ORI, 300) == 0.0


def test_evidence_is_drawn_from_the_whole_span_it_counts() -> None:
    r = rule(span_windows=3, min_count=10, reference_windows=5)
    for w in range(5):
        r.on_window(view(w * 60, dmv(f"b{w}-", 1, w * 60)))
    r.on_window(view(300, dmv("s0-", 4, 300)))
    r.on_window(view(360, dmv("s1-", 4, 360)))
    [f] = r.on_window(view(420, dmv("s2-", 4, 420)))
    ids = {e.event_id for e in f.events}
    assert f.count == 12 and len(ids) == 12
    assert {i[:3] for i in ids} == {"s0-", "s1-", "s2-"}
    restored = rule(span_windows=3, min_count=10, reference_windows=5)
    restored.load_state(r.state_bytes())
    assert restored.state_bytes() == r.state_bytes()


def test_the_summary_of_a_usually_quiet_agency_names_the_floor_not_a_zero_baseline() -> None:
    r = rule()
    for w in range(2):
        r.on_window(view(w * 60, dmv(f"q{w}", 0, w * 60)))
    [f] = r.on_window(view(120, dmv("burst", 20, 120)))
    assert "baseline of 0" not in f.summary and "0.00" not in f.summary
    assert "usually makes 0.0 per 1 min" in f.summary and "floor of 1 (20.0x)" in f.summary
