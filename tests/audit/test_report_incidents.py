"""The audit report's incidents table and evidence appendix: alerts.csv and incidents.csv cite alert,
incident and event ids and source offsets; the PDF page is landscape."""

from __future__ import annotations

import csv
from pathlib import Path

from sinks.audit import AuditStore
from tests.audit.conftest import RecordedYear
from tests.audit.test_report_and_tracker import run_report


def test_report_has_incidents_and_an_evidence_appendix(recorded_year: RecordedYear, tmp_path: Path) -> None:
    out_dir = tmp_path / "report"
    rc, _out = run_report(recorded_year, out_dir, "--json")
    assert rc == 0
    with AuditStore(recorded_year.db_url) as store:
        alerts = {a["alert_id"]: a for a in store.alerts("y2018")}
    with (out_dir / "alerts.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["alert_id"] for r in rows} == set(alerts)
    for r in rows:
        a = alerts[r["alert_id"]]
        assert r["incident_id"] == a["incident_id"] and r["incident_id"]
        assert r["event_ids"].split() == list(a["evidence"]["event_ids"])
        assert r["offsets"].split() == list(a["evidence"]["offsets"])
    with (out_dir / "incidents.csv").open() as fh:
        incidents = list(csv.DictReader(fh))
    assert {i["incident_id"] for i in incidents} == {a["incident_id"] for a in alerts.values()}
    assert sum(int(i["alerts"]) for i in incidents) == len(alerts)
    html = (out_dir / "report.html").read_text()
    assert 'id="table-incidents"' in html and 'href="incidents.csv"' in html and 'href="alerts.csv"' in html
    assert "size: letter landscape" in html and "counter(pages)" in html


def test_chart_ticks_are_round_and_the_pdf_has_page_numbers(tmp_path: Path) -> None:
    from clets_watch.report.charts import nice_ticks

    expected: tuple[tuple[float, list[float]], ...] = (
        (2400, [0, 500, 1000, 1500, 2000, 2500]),
        (7, [0, 2, 4, 6, 8]),
        (100, [0, 20, 40, 60, 80, 100]),
    )
    for value, want in expected:
        assert nice_ticks(value) == want
    for value in (3, 13, 977, 12_345, 0.37):
        ticks = nice_ticks(value)
        step = ticks[1] - ticks[0]
        assert ticks[-1] >= value and len(ticks) <= 8
        assert f"{step:g}".lstrip("0.").rstrip("0") in ("1", "2", "5")
