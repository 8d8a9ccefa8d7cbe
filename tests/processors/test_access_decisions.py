"""Suspension the pipeline enforces: query_while_suspended by event time; a restore ends it and resets
the agency's recommendation; the same through ``replay`` of the decisions the database keeps."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest

from clets_watch import cli
from processors.access_decisions import DecisionBook, decision_id
from processors.agencies import AgencyRegistry
from processors.pipeline import Pipeline, PipelineConfig, StepResult
from processors.pseudonymize import Pseudonymizer
from schemas import AccessDecision
from tests.processors.factories import DHS_ORI, LASD, T0, fake_classify, raw

REGISTRY = AgencyRegistry.load()


def at(seconds: int) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def decision(action: str, seconds: int, ori: str = DHS_ORI) -> AccessDecision:
    when = at(seconds)
    return AccessDecision(
        decision_id=decision_id(ori, action, when, "Sup"),
        ori=ori,
        action=action,  # type: ignore[arg-type]
        effective_at=when,
        by="Sup",
        reason="raid",
    )


def run(decisions: list[AccessDecision], stream: list[bytes]) -> list[StepResult]:
    p = Pipeline(fake_classify, REGISTRY, Pseudonymizer(b"k"), PipelineConfig())
    for d in decisions:
        assert p.apply_decision(d)
        assert not p.apply_decision(d)  # known already
    out = [p.process_raw(r, source=f"t:{i}") for i, r in enumerate(stream)]
    out.append(p.close())
    return out


def test_book_answers_by_event_time() -> None:
    book = DecisionBook([decision("suspend", 100), decision("restore", 500)])
    t0 = int(T0.timestamp() * 1_000_000)
    assert book.suspended_at(DHS_ORI, t0 + 99_000_000) is None
    assert book.suspended_at(DHS_ORI, t0 + 100_000_000) is not None
    assert book.suspended_at(DHS_ORI, t0 + 500_000_000) is None
    assert book.suspended_at(LASD, t0 + 200_000_000) is None


def test_queries_while_suspended_alert_and_restore_ends_it_and_resets_the_recommendation() -> None:
    # criminal-history queries with a criminal reason: allowed, so only the suspension can alert
    stream = [raw(f"e{i}", i * 30, ori=DHS_ORI, message_type="DQ", reason="deport") for i in range(60)]
    stream += [raw(f"l{i}", i * 30, ori=LASD, message_type="QH", reason="459 PC") for i in range(60)]
    results = run([decision("suspend", 600), decision("restore", 1200)], stream)
    hits = [a for r in results for a in r.alerts if a.rule == "query_while_suspended"]
    assert len(hits) == 20 and {a.ori for a in hits} == {DHS_ORI}  # events at 600..1170 s
    assert all(a.severity == "critical" and "suspended" in a.summary for a in hits)
    assert all(a.incident_id for a in hits)
    restores = [rec for r in results for rec in r.recommendations if rec.level == "normal"]
    assert restores and restores[0].by == "Sup" and restores[0].at == at(1200)
    # without the decisions: no such alert
    assert not [a for r in run([], stream) for a in r.alerts if a.rule == "query_while_suspended"]


def test_replay_applies_the_recorded_decisions_by_event_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Decisions of 2019 as the database keeps them (``clets-watch access`` records a decision at the time
    it is made and refuses to backdate one: tests/commands/test_access_cli.py), applied by replay."""
    from sinks.access_decisions import record_decision
    from sinks.db import open_engine

    monkeypatch.setenv("CLETS_WATCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CLETS_WATCH_PSEUDONYM_KEY", "test-key")
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    archive = tmp_path / "q.jsonl.gz"
    with gzip.open(archive, "wb") as fh:
        for i in range(40):
            fh.write(
                raw(f"c{i}", i * 30, ori="CA0190000", message_type="QH", reason="459 PC burglary") + b"\n"
            )
    engine = open_engine(db)
    try:
        assert record_decision(engine, decision("suspend", 300, "CA0190000"))
        assert record_decision(engine, decision("restore", 600, "CA0190000"))
    finally:
        engine.dispose()
    capsys.readouterr()
    assert cli.main(["replay", "-i", str(archive), "--json", "--access-decisions", db]) == 0
    alerts = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    hits = [a for a in alerts if a["rule"] == "query_while_suspended"]
    assert len(hits) == 10 and all(a["incident_id"] for a in hits)
    assert cli.main(["replay", "-i", str(archive), "--json", "--access-decisions", "none"]) == 0
    assert "query_while_suspended" not in capsys.readouterr().out
