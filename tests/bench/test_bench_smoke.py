"""A small run of the whole bench against the session's real broker, so the benchmark cannot rot.

It asserts the results' structure and that every stage measured a positive rate — never a speed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clets_watch.bench import report
from clets_watch.bench.runner import BenchConfig, run

pytestmark = pytest.mark.integration


def test_bench_smoke_run_measures_every_stage(kafka_bootstrap: str, tmp_path: Path) -> None:
    config = BenchConfig(
        bootstrap=kafka_bootstrap,
        events=3000,
        replay_events=5000,
        latency_seconds=3.0,
        latency_rate=1000.0,
        classifier_events=2000,
        cache_dir=tmp_path / "cache",
        stage_timeout=180.0,
    )
    results = run(config, say=lambda _msg: None)
    s = results["stages"]

    assert [c["client"] for c in s["raw"]] == ["aiokafka", "kafka-python", "confluent-kafka"]
    for consumer in s["raw"]:
        assert consumer["events"] == 3000
        assert consumer["events_per_second"] > 0
    assert s["produce"]["events"] == 3000
    assert s["live"]["events"] >= 3000 and s["live"]["events_per_second"] > 0
    assert s["live"]["final_lag"] == 0 and s["live"]["verdict_rows"] == 3000
    assert s["peer"]["events"] == 3000 and s["peer"]["events_per_second"] > 0
    lat = s["latency"]
    assert lat["events"] == 3000 and lat["alerts"] > 0
    assert 0 < lat["p50_seconds"] <= lat["p99_seconds"] <= lat["max_seconds"]
    for mode in ("parse", "orjson", "pipeline", "pipeline_workers2"):
        assert s["replay"][mode]["events"] == 5000
        assert s["replay"][mode]["events_per_second"] > 0
        assert s["replay"][mode]["memory"][-1]["rss_kib"] > 0
    assert s["classifier"]["events_per_second"] > 0

    evaluation = results["evaluation"]
    assert set(evaluation["met"]) == set(report.GOALS)
    assert evaluation["figures"]["ceiling_events_per_second"] == max(c["events_per_second"] for c in s["raw"])
    assert results["machine"]["cpus"] >= 1
    table = report.render(results)
    assert "clets-watch live" in table and "quixstreams" in table
    assert "orjson.loads" in table and "replay --workers 2" in table
    assert s["replay"]["pipeline_workers2"]["events_processed"] == s["replay"]["pipeline"]["events"]

    out = tmp_path / "results.json"
    report.write_results(results, out)
    assert '"stages"' in out.read_text()
