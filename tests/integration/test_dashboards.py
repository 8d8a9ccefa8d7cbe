"""Every Grafana panel's PromQL, run against a real Prometheus scraping a real worker fed the demo raid stream.

A panel may return nothing only when its description says so ("May be empty: <why>."), e.g. a table of
firing alerts; every other panel must return data. Queries are scoped to this test's worker (its
``instance`` label) so that data from other workers on the shared test Prometheus cannot hide a gap.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from clets_watch.stack import PROJECT_ROOT
from producers.kafka_out import produce
from producers.simulator import generate
from tests.integration.scrape import KeepScraped
from tests.integration.workers import sqlite_worker

DASHBOARDS = PROJECT_ROOT / "deploy" / "grafana" / "dashboards"
MAY_BE_EMPTY = re.compile(r"May be empty: ([^.]+)\.")
KEY = "dashboard-test-pseudonym-key"
START = dt.datetime.fromisoformat("2019-06-12T05:00:00-07:00")
MALFORMED = [b'{"schema_version": 1, "event_id": "bad-1"', b'{"schema_version": 9, "event_id": "bad-2"}']

# Grafana's global variables, as a panel sees them; template variables become "All" (.*).
GRAFANA_GLOBALS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h", "__range_s": "3600"}
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
# Metric names the worker and Prometheus export: each selector gets this test's instance label.
SELECTOR = re.compile(r"\b(clets_watch_[a-z0-9_]+|up|ALERTS)\b(\{)?")
LABEL_VALUES = re.compile(r"^label_values\((.+),\s*(\w+)\)$")


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    expr: str
    may_be_empty: str | None

    def where(self) -> str:
        return f"{self.dashboard}: panel {self.panel!r}"


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # rows hold their panels


def dashboards() -> list[tuple[str, dict[str, Any]]]:
    return [(p.name, json.loads(p.read_text())) for p in sorted(DASHBOARDS.glob("*.json"))]


def panel_queries() -> list[PanelQuery]:
    queries = []
    for name, dash in dashboards():
        for panel in _panels(dash["panels"]):
            empty = MAY_BE_EMPTY.search(panel.get("description", ""))
            for target in panel.get("targets", []):
                queries.append(
                    PanelQuery(name, panel["title"], target["expr"], empty.group(1) if empty else None)
                )
    return queries


def variable_queries() -> list[tuple[str, str, str]]:
    """(dashboard, variable, label_values(...) query) for every query-type template variable."""
    found = []
    for name, dash in dashboards():
        for var in dash.get("templating", {}).get("list", []):
            if var.get("type") == "query":
                query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
                found.append((name, var["name"], query))
    return found


def expand(expr: str) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        return GRAFANA_GLOBALS.get(name, ".*")

    return VARIABLE.sub(sub, expr)


def scope(expr: str, instance: str) -> str:
    """Add ``instance="<instance>"`` to every selector of a worker or Prometheus metric."""
    matcher = f'instance="{instance}"'

    def sub(m: re.Match[str]) -> str:
        return f"{m.group(1)}{{{matcher}," if m.group(2) else f"{m.group(1)}{{{matcher}}}"

    return SELECTOR.sub(sub, expr)


# ----------------------------------------------------------------------------- no services


def test_expand_and_scope_rewrite_grafana_queries() -> None:
    expr = 'sum by (ori) (rate(clets_watch_queries_total{ori=~"$ori", component=~"${component}"}[$__rate_interval]))'
    assert expand(expr) == 'sum by (ori) (rate(clets_watch_queries_total{ori=~".*", component=~".*"}[1m]))'
    assert scope('sum(up{job="clets-watch"}) + sum(clets_watch_sink_backlog)', "h:1") == (
        'sum(up{instance="h:1",job="clets-watch"}) + sum(clets_watch_sink_backlog{instance="h:1"})'
    )
    assert scope(
        "histogram_quantile(0.99, sum by (le) (rate(clets_watch_processing_seconds_bucket[5m])))", "h:1"
    ) == (
        'histogram_quantile(0.99, sum by (le) (rate(clets_watch_processing_seconds_bucket{instance="h:1"}[5m])))'
    )


def test_dashboards_cover_the_oncall_views() -> None:
    uids = {dash["uid"] for _name, dash in dashboards()}
    assert {
        "clets-watch-overview",
        "clets-watch-traffic",
        "clets-watch-dhs",
        "clets-watch-prohibited",
        "clets-watch-access",
        "clets-watch-pipeline",
    } <= uids
    exprs = " ".join(q.expr for q in panel_queries())
    for needed in (
        "clets_watch_consumer_lag",
        "clets_watch_watermark_lag_seconds",
        "clets_watch_late_events_total",
        "clets_watch_dead_letter_total",
        "clets_watch_sink_backlog",
        "histogram_quantile(0.99",
        "clets_watch_agency_recommendation",
        'purpose="immigration_enforcement"',
    ):
        assert needed in exprs, f"no dashboard panel uses {needed}"


def test_only_marked_panels_may_be_empty_and_each_says_why() -> None:
    marked = [q for q in panel_queries() if q.may_be_empty is not None]
    assert all((q.may_be_empty or "").strip() for q in marked)
    # most panels must show data: the exemptions stay few
    assert len(marked) <= len(panel_queries()) // 4, [q.where() for q in marked]


# ----------------------------------------------------------------------------- real services


@pytest.mark.integration
def test_every_panel_returns_data_for_the_demo_stream(
    kafka_bootstrap: str, kafka_topic: Any, prometheus: Any, free_port: Any, tmp_path: Path
) -> None:
    prometheus.reload()  # rule files may have changed since the session's Prometheus started
    queries_topic = kafka_topic("q")
    items = list(
        generate(
            seed=2024, start=START, duration=dt.timedelta(minutes=35), rate_per_second=1.0, scenarios=["raid"]
        )
    )
    group = f"dash-{uuid.uuid4().hex[:8]}"
    metrics_port = free_port()
    instance = f"127.0.0.1:{metrics_port}"
    worker = sqlite_worker(kafka_bootstrap, kafka_topic, queries_topic, group, tmp_path, metrics_port, KEY)
    with KeepScraped(prometheus.stack, instance):
        worker.start()
        try:
            prometheus.wait_for(f'up{{instance="{instance}"}} == 1', timeout=60)
            # The demo stream, paced over several scrapes (counters rise while Prometheus watches), then bad input.
            produce(items, bootstrap=kafka_bootstrap, topic=queries_topic, create_topic=False, pace=500.0)
            producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
            for raw in MALFORMED:
                producer.send(queries_topic, value=raw)
            producer.flush()
            producer.close()
            worker.wait_consumed(kafka_bootstrap, group, queries_topic, timeout=120)
            prometheus.wait_for(
                f'sum(clets_watch_events_processed_total{{instance="{instance}"}}) == {len(items)}',
                timeout=30,
            )
            prometheus.wait_for(
                f'sum(clets_watch_dead_letter_total{{instance="{instance}"}}) == {len(MALFORMED)}', timeout=30
            )

            failures: list[str] = []
            checked = 0
            for q in panel_queries():
                promql = scope(expand(q.expr), instance)
                try:
                    result = prometheus.query(promql)
                except Exception as exc:  # noqa: BLE001 - report which panel broke, with Prometheus' reason
                    detail = exc.read().decode(errors="replace") if hasattr(exc, "read") else str(exc)
                    failures.append(f"{q.where()}: query error for {promql!r}: {detail}")
                    continue
                checked += 1
                if not result and q.may_be_empty is None:
                    failures.append(f"{q.where()}: no data for {promql!r}")
            for name, var, query in variable_queries():
                m = LABEL_VALUES.match(query.strip())
                if m is None:
                    failures.append(f"{name}: variable {var}: unsupported query {query!r}")
                    continue
                promql = scope(f"group by ({m.group(2)}) ({m.group(1)})", instance)
                if not prometheus.query(promql):
                    failures.append(f"{name}: variable {var}: no values for {promql!r}")
            assert not failures, "\n".join(failures)
            assert checked == len(panel_queries())
        finally:
            worker.stop()
