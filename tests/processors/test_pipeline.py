"""The per-event pipeline: decode, dedup, windows, late amendments, alerts, suppression, snapshot."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.agencies import AgencyRegistry
from processors.pipeline import Pipeline, PipelineConfig, SnapshotError, StepResult
from processors.pseudonymize import Pseudonymizer
from tests.processors.factories import DHS_ORI, LASD, T0, fake_classify, raw

REGISTRY = AgencyRegistry.load()


def make(config: PipelineConfig | None = None) -> Pipeline:
    return Pipeline(fake_classify, REGISTRY, Pseudonymizer(b"test-key"), config or PipelineConfig())


def run(p: Pipeline, raws: list[bytes]) -> list[StepResult]:
    out = [p.process_raw(r, source=f"t:{i}") for i, r in enumerate(raws)]
    out.append(p.close())
    return out


def collect(results: list[StepResult]) -> tuple[list[tuple[Any, ...]], list[str]]:
    aggs = sorted(
        (a.window_kind, a.ori, a.window_start, a.revision, a.total, tuple(a.by_verdict.items()))
        for r in results
        for a in r.aggregates
    )
    alerts = sorted(a.alert_id for r in results for a in r.alerts)
    return aggs, alerts


def test_bad_input_becomes_a_dead_letter() -> None:
    p = make()
    r = p.process_raw(b'{"schema_version": 1}', source="t/0/5")
    assert r.processed is None
    assert [(d.reason, d.source, d.payload) for d in r.dead_letters] == [
        ("missing_field", "t/0/5", b'{"schema_version": 1}')
    ]
    assert p.stats.dead_letters == 1 and p.stats["events"] == 0


def test_processed_event_is_pseudonymized_and_classified() -> None:
    p = make()
    r = p.process_raw(
        raw("e1", ori=DHS_ORI, message_type="DQ", reason="deport A123456789", subject={"name": "Jane Doe"}),
        source="t/0/1",
    )
    ev = r.processed
    assert ev is not None
    assert ev.verdict == "prohibited" and ev.data_source == "dmv_license"
    assert ev.department == "DHS" and ev.component == "ICE-ERO"
    assert ev.operator.startswith("op-") and "deputy" not in ev.operator
    assert ev.subject_key is not None and "Jane" not in msgspec.json.encode(ev).decode()
    assert ev.has_reason and not ev.has_case_number and ev.source == "t/0/1"
    assert r.alerts == []  # the first alert of an incident waits until the watermark settles it
    [alert] = p.close().alerts
    assert alert.incident_id is not None
    assert alert.rule == "prohibited_query" and alert.key == "e1" and alert.severity == "critical"
    assert alert.window_start == "2024-05-01T19:00:00Z" and alert.window_end == "2024-05-01T19:01:00Z"
    assert alert.evidence.event_ids == ("e1",) and alert.evidence.offsets == ("t/0/1",)
    assert alert.evidence.policy_rules == ("POL-2", "POL-2b")
    assert alert.component == "ICE-ERO"


def test_duplicates_are_processed_once() -> None:
    p = make()
    first = p.process_raw(raw("e1", 5))
    again = p.process_raw(raw("e1", 5))
    assert first.processed is not None and not first.duplicate
    assert again.duplicate and again.processed is None and again.alerts == [] and again.dead_letters == []
    [agg] = p.close().aggregates
    assert agg.total == 1 and p.stats.duplicates == 1 and p.stats.events == 1


def test_windows_close_on_watermark_and_emit_once() -> None:
    p = make(PipelineConfig(window_seconds=60, allowed_lateness_seconds=120))
    assert p.process_raw(raw("a", 10)).aggregates == []
    assert p.process_raw(raw("b", 179)).aggregates == []  # watermark 59s: window [0,60) still open
    r = p.process_raw(raw("c", 180))  # watermark 60s closes [0,60)
    assert [(a.window_start, a.total, a.revision) for a in r.aggregates] == [("2024-05-01T19:00:00Z", 1, 0)]
    assert p.watermark == T0.replace(minute=1)
    assert p.stats.open_windows == 2
    final = p.close()
    assert [(a.window_start, a.total) for a in final.aggregates] == [
        ("2024-05-01T19:02:00Z", 1),
        ("2024-05-01T19:03:00Z", 1),
    ]
    assert p.stats.open_windows == 0 and p.close().aggregates == []


def test_late_event_is_dead_lettered_and_amends_its_window() -> None:
    p = make(PipelineConfig(window_seconds=60, allowed_lateness_seconds=60))
    p.process_raw(raw("a", 10))
    p.process_raw(raw("b", 200))  # watermark 140s: [0,60) and nothing else closed
    late = p.process_raw(raw("c", 20, reason=""), source="t:9")
    assert [d.reason for d in late.dead_letters] == ["late"]
    assert late.dead_letters[0].event_id == "c" and late.dead_letters[0].source == "t:9"
    assert late.processed is not None  # its verdict is still recorded
    [amended] = late.aggregates
    assert (amended.total, amended.revision, amended.late) == (2, 1, 1)
    assert amended.by_verdict == {"allowed": 1, "review": 1}
    again = p.process_raw(raw("d", 30))
    assert [(a.total, a.revision, a.late) for a in again.aggregates] == [(3, 2, 2)]
    assert p.stats.late == 2 and p.stats.amendments == 2


def test_late_prohibited_event_still_alerts() -> None:
    p = make(PipelineConfig(allowed_lateness_seconds=0))
    p.process_raw(raw("a", 500))
    r = p.process_raw(raw("x", 10, ori=DHS_ORI, message_type="DQ", reason="deportation"))
    assert [d.reason for d in r.dead_letters] == ["late"]
    assert [a.rule for a in r.alerts] == ["prohibited_query"]


def test_late_beyond_retention_is_counted_not_amended() -> None:
    p = make(PipelineConfig(allowed_lateness_seconds=0, amendment_retention_seconds=60))
    p.process_raw(raw("a", 10))
    p.process_raw(raw("b", 1000))
    r = p.process_raw(raw("c", 20))
    assert [d.reason for d in r.dead_letters] == ["late"] and "retention" in r.dead_letters[0].detail
    assert r.aggregates == [] and p.stats.late == 1


def test_hopping_aggregates() -> None:
    p = make(PipelineConfig(window_seconds=60, allowed_lateness_seconds=0, hopping_windows=((120, 60),)))
    results = run(p, [raw("a", 10), raw("b", 70), raw("c", 130)])
    hop = sorted(
        (a.window_start, a.total)
        for r in results
        for a in r.aggregates
        if a.window_kind == "hopping-120s-60s"
    )
    assert hop == [
        ("2024-05-01T18:59:00Z", 1),
        ("2024-05-01T19:00:00Z", 2),
        ("2024-05-01T19:01:00Z", 2),
        ("2024-05-01T19:02:00Z", 1),
    ]
    with pytest.raises(ValueError, match="multiple"):
        PipelineConfig(window_seconds=60, hopping_windows=((120, 90),))


def test_window_rule_alerts_and_suppression_in_event_time(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  missing_justification:\n    suppress_seconds: 600\n    params: {min_count: 2}\n"
    )
    p = make(PipelineConfig(allowed_lateness_seconds=0, rules_file=rules))
    stream = []
    for minute in (0, 1, 20):
        stream += [raw(f"m{minute}-{i}", minute * 60 + i, reason="") for i in range(3)]
    results = run(p, stream)
    alerts = [a for r in results for a in r.alerts if a.rule == "missing_justification"]
    assert [(a.window_start[11:16], a.status) for a in alerts] == [
        ("19:00", "fired"),
        ("19:01", "suppressed"),
        ("19:20", "fired"),
    ]
    assert alerts[1].suppressed_reason and alerts[0].alert_id in alerts[1].suppressed_reason
    assert len({a.alert_id for a in alerts}) == 3
    assert alerts[0].evidence.count == 3 and alerts[0].evidence.counts["share"] == 1.0
    assert p.stats.suppressed == 1


def test_alert_ids_are_deterministic_across_pipelines() -> None:
    stream = [raw(f"e{i}", i * 7, ori=DHS_ORI, message_type="DQ", reason="deport") for i in range(30)]
    a = collect(run(make(), stream))
    b = collect(run(make(), stream))
    assert a == b and len(a[1]) > 30  # per-event prohibited alerts plus window alerts


def test_snapshot_restore_loses_and_doubles_nothing() -> None:
    stream = [
        raw(
            f"e{i}",
            i * 13,
            reason="" if i % 2 else "x",
            ori=[LASD, DHS_ORI][i % 2],
            message_type=["QH", "DQ"][i % 2],
        )
        for i in range(80)
    ]
    whole = collect(run(make(), stream))
    first = make()
    part1 = [first.process_raw(r, source=f"t:{i}") for i, r in enumerate(stream[:37])]
    snap = first.snapshot()
    second = Pipeline.restore(snap, fake_classify, REGISTRY, Pseudonymizer(b"test-key"), PipelineConfig())
    part2 = [second.process_raw(r, source=f"t:{i + 37}") for i, r in enumerate(stream[37:])]
    part2.append(second.close())
    assert collect(part1 + part2) == whole
    # a redelivered message after restart is a duplicate
    assert second.process_raw(stream[36]).duplicate


def test_snapshot_from_other_windows_is_refused() -> None:
    p = make()
    p.process_raw(raw("a", 1))
    other = make(PipelineConfig(window_seconds=300))
    with pytest.raises(SnapshotError, match="windows"):
        other.load_snapshot(p.snapshot())
    with pytest.raises(SnapshotError):
        other.load_snapshot(b"not a snapshot")


def test_seen_ids_are_evicted_with_the_watermark() -> None:
    p = make(PipelineConfig(allowed_lateness_seconds=0, amendment_retention_seconds=120))
    for i in range(200):
        p.process_raw(raw(f"e{i}", i * 30))
    assert len(p._seen) <= 10
    assert p.stats.open_windows <= 2


# ---------------------------------------------------------------- arrival order does not matter

LATENESS = 120


def _stream(n: int, seed: int) -> list[tuple[int, bytes]]:
    rnd = random.Random(seed)
    out = []
    t = 0
    for i in range(n):
        t += rnd.randint(0, 20)
        ori = rnd.choice([LASD, DHS_ORI, "CA0380100"])
        mt = rnd.choice(["QH", "DQ", "RQ", "QW"])
        reason = rnd.choice(["", "deport", "459 PC", "traffic stop"])
        op = rnd.choice(["a", "b"])
        out.append(
            (
                t,
                raw(
                    f"e{i}",
                    t,
                    ori=ori,
                    message_type=mt,
                    reason=reason,
                    operator_id=op,
                    subject={"name": rnd.choice("ABCDEFGHIJKL")},
                ),
            )
        )
    return out


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), shuffle_seed=st.integers(0, 10_000), n=st.integers(5, 120))
def test_any_shuffle_within_allowed_lateness_gives_same_results(seed: int, shuffle_seed: int, n: int) -> None:
    events = _stream(n, seed)
    in_order = collect(run(make(PipelineConfig(allowed_lateness_seconds=LATENESS)), [r for _, r in events]))
    # shuffle with bounded disorder: each event is delayed by less than the allowed lateness
    rnd = random.Random(shuffle_seed)
    keyed = sorted(events, key=lambda tr: tr[0] + rnd.uniform(0, LATENESS - 1))
    p = make(PipelineConfig(allowed_lateness_seconds=LATENESS))
    shuffled_results = run(p, [r for _, r in keyed])
    assert p.stats.late == 0
    assert collect(shuffled_results) == in_order


def test_event_time_far_after_the_write_time_is_bad_input_and_moves_no_watermark() -> None:
    import datetime as _dt

    p = make()
    written = T0 + _dt.timedelta(minutes=5)
    ok = p.process_raw(raw("near", 0), written_at=written)
    assert ok.processed is not None and not ok.dead_letters
    far = p.process_raw(raw("future", 30 * 86400), written_at=written)
    assert far.processed is None
    [dl] = far.dead_letters
    assert dl.reason == "invalid_time" and "after the message was written" in dl.detail
    assert p.watermark is not None and p.watermark < written


def test_a_placeholder_reason_counts_as_no_reason_as_the_policy_reads_it() -> None:
    from processors.policy import Classifier, load_policy

    p = Pipeline(
        Classifier(load_policy(), REGISTRY).classify, REGISTRY, Pseudonymizer(b"k"), PipelineConfig()
    )
    placeholder = p.process_raw(raw("p1", 0, reason="n/a"))
    real = p.process_raw(raw("p2", 1, reason="burglary 459 PC"))
    assert placeholder.processed is not None and real.processed is not None
    assert "POL-1.no-justification" in placeholder.processed.rules
    assert placeholder.processed.has_reason is False and real.processed.has_reason is True
