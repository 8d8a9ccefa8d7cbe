"""Event-time windows: assignment, watermark, closing once and in order, late detection."""

from __future__ import annotations

import datetime as dt

import pytest

from processors.windows import US_PER_S, Watermark, WindowSpec, WindowStore, rfc3339, to_us


def us(seconds: int) -> int:
    return seconds * US_PER_S


def test_tumbling_assigns_one_window() -> None:
    spec = WindowSpec(60)
    assert spec.is_tumbling and spec.kind == "tumbling-60s"
    assert spec.starts_for(us(0)) == [0]
    assert spec.starts_for(us(59) + 999_999) == [0]
    assert spec.starts_for(us(60)) == [60]
    assert spec.starts_for(us(-1)) == [-60]


def test_hopping_assigns_every_overlapping_window() -> None:
    spec = WindowSpec(300, 60)
    assert spec.kind == "hopping-300s-60s"
    assert spec.starts_for(us(130)) == [-120, -60, 0, 60, 120]
    assert all(s <= 130 < spec.end(s) for s in spec.starts_for(us(130)))


@pytest.mark.parametrize("size,step", [(0, None), (60, 0), (60, 120), (300, 120)])
def test_bad_specs_are_rejected(size: int, step: int | None) -> None:
    with pytest.raises(ValueError):
        WindowSpec(size, step)


def test_watermark_is_max_event_time_minus_lateness_and_monotonic() -> None:
    wm = Watermark(120)
    assert wm.value is None
    wm.observe(us(1000))
    wm.observe(us(500))
    assert wm.value_us == us(880)
    assert wm.value == dt.datetime(1970, 1, 1, 0, 14, 40, tzinfo=dt.UTC)
    with pytest.raises(ValueError):
        Watermark(-1)


def test_windows_close_by_watermark_only_once_in_order() -> None:
    store: WindowStore[list[str]] = WindowStore(WindowSpec(60), list)
    store.state(120, "A").append("a1")
    store.state(0, "B").append("b1")
    store.state(0, "A").append("a0")
    assert list(store.close_until(us(59))) == []
    closed = list(store.close_until(us(130)))
    assert [(c.start, c.end) for c in closed] == [(0, 60)]
    assert list(closed[0].items) == ["A", "B"]  # keys sorted
    assert list(store.close_until(us(130))) == []  # emitted once
    closed = list(store.close_until(us(1000)))
    assert [(c.start, dict(c.items)) for c in closed] == [(120, {"A": ["a1"]})]
    assert store.closed_until == 960 and len(store) == 0


def test_closed_window_is_late_and_cannot_be_written() -> None:
    store: WindowStore[list[str]] = WindowStore(WindowSpec(60), list)
    store.state(0, "A").append("x")
    list(store.close_until(us(60)))
    assert store.is_closed(0) and not store.is_closed(60)
    assert store.assign(us(30)) == ([], [0])
    with pytest.raises(ValueError, match="already closed"):
        store.state(0, "A")


def test_empty_windows_are_yielded_only_while_wanted() -> None:
    store: WindowStore[list[str]] = WindowStore(WindowSpec(60), list)
    store.state(0, "A").append("x")
    store.state(600, "A").append("y")
    wanted = {60, 120}
    closed = list(store.close_until(us(700), include_empty=lambda s: s in wanted))
    assert [(c.start, len(c.items)) for c in closed] == [(0, 1), (60, 0), (120, 0), (600, 1)]
    assert store.closed_until == 660


def test_one_jump_of_the_watermark_closes_the_same_windows_as_small_steps() -> None:
    """A silence is wanted only once it has lasted a while (as flatline's): the start after an unwanted
    one must still be asked, or a watermark that moves ten windows at once would skip it."""

    def closed_by(limits: list[int]) -> list[int]:
        store: WindowStore[list[str]] = WindowStore(WindowSpec(60), list)
        store.state(0, "A").append("x")
        return [
            c.start
            for limit in limits
            for c in store.close_until(us(limit), include_empty=lambda s: s >= 300)
        ]

    assert closed_by([660]) == closed_by(list(range(60, 661, 60))) == [0, 300, 360, 420, 480, 540, 600]


def test_hopping_store_closes_overlapping_windows() -> None:
    store: WindowStore[list[int]] = WindowStore(WindowSpec(120, 60), list)
    for t in (10, 70, 130):
        for start in store.assign(us(t))[0]:
            store.state(start, "A").append(t)
    closed = {c.start: c.items["A"] for c in store.close_until(us(180))}
    assert closed == {-60: [10], 0: [10, 70], 60: [70, 130]}


def test_time_helpers() -> None:
    t = dt.datetime(2024, 5, 1, 12, 0, 0, 500, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    assert to_us(t) % US_PER_S == 500
    assert rfc3339(0) == "1970-01-01T00:00:00Z"
    with pytest.raises(ValueError):
        to_us(dt.datetime(2024, 1, 1))
