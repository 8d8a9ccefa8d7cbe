"""Metrics over a fresh registry: counts, zero-initialised series, watermark lag, no PII in labels."""

from __future__ import annotations

import datetime as dt
import socket
import urllib.request
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from schemas.events import DEAD_LETTER_REASONS
from schemas.outputs import Alert, DeadLetter, Evidence, ProcessedEvent
from sinks.metrics import FORBIDDEN_LABELS, Metrics, serve
from tests.processors.factories import dmv_alert, pe

UTC = dt.UTC
T0 = dt.datetime(2019, 3, 1, 12, 0, tzinfo=UTC)
OPERATOR = "op-SECRET-7f3a9c"
SUBJECT = "subj-SECRET-41bd02"


def event(
    i: int,
    *,
    ori: str = "CA0190000",
    component: str | None = None,
    verdict: str = "allowed",
    purpose: str = "criminal_justice",
    message_type: str = "DQ",
) -> ProcessedEvent:
    """Event ``i`` seconds after T0, whose operator, terminal and subject must never reach a label."""
    return pe(
        f"ev-{i}",
        when=T0 + dt.timedelta(seconds=i),
        ori=ori,
        component=component,
        department="DHS" if component else None,
        operator=OPERATOR,
        terminal_id="TERM-SECRET",
        message_type=message_type,
        data_source="dmv_license",
        has_case_number=True,
        subject_key=SUBJECT,
        verdict=verdict,
        purpose=purpose,
        rules=("POL-1",),
    )


def alert(rule: str = "dmv_burst", *, status: str = "fired", severity: str = "high") -> Alert:
    return dmv_alert(
        f"al-{rule}-{status}",
        rule=rule,
        severity=severity,
        summary="SUMMARY-SECRET free text",
        evidence=Evidence(count=3, event_ids=("ev-1",)),
        status=status,
    )


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def test_series_exist_at_zero_before_any_event(registry: CollectorRegistry) -> None:
    Metrics(registry, rules=["dmv_burst", "ccw_checks"])
    for reason in DEAD_LETTER_REASONS:
        assert registry.get_sample_value("clets_watch_dead_letter_total", {"reason": reason}) == 0.0
    for status in ("fired", "suppressed"):
        labels = {"rule": "ccw_checks", "severity": "critical", "status": status}
        assert registry.get_sample_value("clets_watch_alerts_total", labels) == 0.0
    assert registry.get_sample_value("clets_watch_events_processed_total") == 0.0
    assert registry.get_sample_value("clets_watch_late_events_total") == 0.0
    assert registry.get_sample_value("clets_watch_sink_backlog") == 0.0


def test_declared_agencies_have_a_zero_series_per_verdict_and_purpose(registry: CollectorRegistry) -> None:
    m = Metrics(registry)
    m.declare_agency("CA0370000", "ICE-ERO", message_types=["DQ", "QH"])
    for verdict in ("prohibited", "review", "allowed"):
        labels = {"ori": "CA0370000", "component": "ICE-ERO", "message_type": "QH", "verdict": verdict}
        assert registry.get_sample_value("clets_watch_queries_total", labels) == 0.0
    for purpose in ("immigration_enforcement", "criminal_justice", "non_criminal_justice", "unknown"):
        labels = {"ori": "CA0370000", "component": "ICE-ERO", "purpose": purpose}
        assert registry.get_sample_value("clets_watch_purpose_total", labels) == 0.0


def test_observe_counts_one_batch(registry: CollectorRegistry) -> None:
    m = Metrics(registry)
    processed = [event(i) for i in range(3)] + [
        event(
            10, ori="CA0370000", component="ICE-ERO", verdict="prohibited", purpose="immigration_enforcement"
        ),
        event(
            11, ori="CA0370000", component="ICE-ERO", verdict="prohibited", purpose="immigration_enforcement"
        ),
    ]
    dead = [
        DeadLetter(reason="malformed_json", detail="x", payload=b"{"),
        DeadLetter(reason="late", detail="late by 300s", payload=b"{}"),
        DeadLetter(reason="late", detail="late by 400s", payload=b"{}"),
    ]
    m.observe(
        processed=processed,
        alerts=[alert(), alert(status="suppressed")],
        dead_letters=dead,
        processing_seconds=0.02,
    )

    q = "clets_watch_queries_total"
    assert (
        registry.get_sample_value(
            q, {"ori": "CA0190000", "component": "none", "message_type": "DQ", "verdict": "allowed"}
        )
        == 3.0
    )
    assert (
        registry.get_sample_value(
            q, {"ori": "CA0370000", "component": "ICE-ERO", "message_type": "DQ", "verdict": "prohibited"}
        )
        == 2.0
    )
    assert (
        registry.get_sample_value(
            "clets_watch_purpose_total",
            {"ori": "CA0370000", "component": "ICE-ERO", "purpose": "immigration_enforcement"},
        )
        == 2.0
    )
    assert registry.get_sample_value("clets_watch_events_processed_total") == 5.0
    assert (
        registry.get_sample_value(
            "clets_watch_alerts_total", {"rule": "dmv_burst", "severity": "high", "status": "fired"}
        )
        == 1.0
    )
    assert (
        registry.get_sample_value(
            "clets_watch_alerts_total", {"rule": "dmv_burst", "severity": "high", "status": "suppressed"}
        )
        == 1.0
    )
    assert registry.get_sample_value("clets_watch_dead_letter_total", {"reason": "late"}) == 2.0
    assert registry.get_sample_value("clets_watch_dead_letter_total", {"reason": "malformed_json"}) == 1.0
    assert registry.get_sample_value("clets_watch_late_events_total") == 2.0
    assert registry.get_sample_value("clets_watch_processing_seconds_count") == 1.0
    assert registry.get_sample_value("clets_watch_processing_seconds_sum") == pytest.approx(0.02)


@dataclass
class _Batch:
    processed: list[ProcessedEvent] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


def test_observe_batch_takes_the_pipeline_output(registry: CollectorRegistry) -> None:
    m = Metrics(registry)
    m.observe_batch(_Batch(processed=[event(1), event(2)]), seconds=0.5, watermark=T0)
    m.observe_batch(_Batch(processed=[event(3)]), seconds=0.1)
    assert registry.get_sample_value("clets_watch_events_processed_total") == 3.0
    assert registry.get_sample_value("clets_watch_processing_seconds_count") == 2.0
    assert registry.get_sample_value("clets_watch_watermark_timestamp_seconds") == T0.timestamp()


def test_watermark_only_moves_forward_and_lag_is_wall_minus_watermark(registry: CollectorRegistry) -> None:
    wall = [T0.timestamp() + 90.0]
    m = Metrics(registry, clock=lambda: wall[0])
    assert registry.get_sample_value("clets_watch_watermark_lag_seconds") == 0.0  # no watermark yet
    m.set_watermark(T0)
    m.set_watermark(T0 - dt.timedelta(minutes=5))  # an older partition's watermark does not move it back
    m.set_watermark(T0.timestamp() - 1.0)
    assert registry.get_sample_value("clets_watch_watermark_timestamp_seconds") == T0.timestamp()
    assert registry.get_sample_value("clets_watch_watermark_lag_seconds") == 90.0
    wall[0] += 30
    assert registry.get_sample_value("clets_watch_watermark_lag_seconds") == 120.0
    with pytest.raises(ValueError, match="naive"):
        m.set_watermark(dt.datetime(2019, 3, 1, 12, 0))


def test_gauges_backlog_consumer_lag_and_recommendation(registry: CollectorRegistry) -> None:
    m = Metrics(registry)
    m.set_sink_backlog(250)
    m.set_consumer_lag({0: 12, 1: 0})
    m.set_recommendation("CA0370000", "ICE-ERO", "watch")
    m.set_recommendation("CA0370000", "ICE-ERO", "suspend")
    assert registry.get_sample_value("clets_watch_sink_backlog") == 250.0
    assert registry.get_sample_value("clets_watch_consumer_lag", {"partition": "0"}) == 12.0
    assert registry.get_sample_value("clets_watch_consumer_lag", {"partition": "1"}) == 0.0
    rec = "clets_watch_agency_recommendation"
    base = {"ori": "CA0370000", "component": "ICE-ERO"}
    assert registry.get_sample_value(rec, {**base, "state": "suspend"}) == 1.0
    assert registry.get_sample_value(rec, {**base, "state": "watch"}) == 0.0
    assert registry.get_sample_value(rec, {**base, "state": "normal"}) == 0.0
    with pytest.raises(ValueError, match="unknown recommendation"):
        m.set_recommendation("CA0370000", None, "banned")


def test_no_operator_subject_case_or_free_text_in_any_label(registry: CollectorRegistry) -> None:
    m = Metrics(registry, rules=["dmv_burst"])
    m.declare_agency("CA0190000", None, message_types=["DQ"])
    m.observe(
        processed=[event(1), event(2, component="ICE-ERO")],
        alerts=[alert()],
        dead_letters=[
            DeadLetter(
                reason="wrong_type",
                detail="DETAIL-SECRET",
                payload=b"PAYLOAD-SECRET",
                event_id="ev-SECRET",
                source="t/0/1",
            )
        ],
    )
    m.set_consumer_lag({0: 1})
    m.set_recommendation("CA0190000", None, "watch")

    label_names: set[str] = set()
    for family in registry.collect():
        for sample in family.samples:
            label_names.update(sample.labels)
            if "reason" in sample.labels:  # the dead-letter reason is a closed list, never free text
                assert sample.labels["reason"] in DEAD_LETTER_REASONS
    assert label_names <= {
        "ori",
        "component",
        "message_type",
        "verdict",
        "purpose",
        "rule",
        "severity",
        "status",
        "reason",
        "partition",
        "state",
        "kind",
        "le",
    }
    for forbidden in ("operator", "subject", "case", "terminal", "event_id", "summary"):
        assert not any(forbidden in name for name in label_names)
    assert not label_names & FORBIDDEN_LABELS
    exposition = generate_latest(registry).decode()
    assert "SECRET" not in exposition


def test_serve_exposes_the_registry_on_loopback(registry: CollectorRegistry) -> None:
    m = Metrics(registry)
    m.observe(processed=[event(1)])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server, thread = serve(m, port=port)
    try:
        assert server.server_address[0] == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            body = resp.read().decode()
        assert "clets_watch_events_processed_total 1.0" in body
        with pytest.raises(OSError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            serve(Metrics(CollectorRegistry()), port=port)  # the port is taken
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
