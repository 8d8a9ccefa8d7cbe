"""The audit report of a generated year renders with its charts, tables and totals; the tracker flags the
agencies that never filed and the zero-reporting DHS components that were alerted."""

from __future__ import annotations

import csv
import json
import re
from html.parser import HTMLParser
from pathlib import Path

from clets_watch.commands import disclosures, report
from sinks.audit import AuditStore
from tests.helpers import run_cmd

from .conftest import RecordedYear

#: the report of the year 2018 as of 1 Sep 2019
YEAR_2018 = ("--year", "2018", "--as-of", "2019-09-01")


def run_report(recorded_year: RecordedYear, out_dir: Path, *options: str) -> tuple[int, str]:
    """``clets-watch report`` of the recorded 2018 run into ``out_dir``, without the PDF."""
    run = ["--db", recorded_year.db_url, "--run", "y2018", "--out", str(out_dir), "--no-pdf"]
    return run_cmd(report, "report", *run, *options)


def run_check(recorded_year: RecordedYear, as_of: str, *extra: str) -> tuple[int, str]:
    """``clets-watch disclosures check`` of 2018 against the recorded run, as of ``as_of``."""
    check = ["check", "--year", "2018", "--run", "y2018", "--as-of", as_of, *extra]
    return run_cmd(disclosures, "disclosures", "--db", recorded_year.db_url, *check)


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.svgs = 0
        self.tables: list[str] = []
        self.values: dict[str, str] = {}
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self.svgs += 1
        if tag == "table" and a.get("id"):
            self.tables.append(str(a["id"]))
        if a.get("id", "") and str(a.get("id")).startswith("total-") and "data-value" in a:
            self.values[str(a["id"])] = str(a["data-value"])
        if tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))


def import_filings(recorded_year: RecordedYear, tmp_path: Path) -> None:
    from processors.disclosures import filings_csv

    path = tmp_path / "filings.csv"
    path.write_text(filings_csv(recorded_year.filings))
    rc, out = run_cmd(disclosures, "disclosures", "--db", recorded_year.db_url, "import", str(path))
    assert rc == 0 and f"imported {len(recorded_year.filings)} disclosures" in out


def test_the_tracker_flags_the_non_filers_and_the_contradiction(
    recorded_year: RecordedYear, tmp_path: Path
) -> None:
    import_filings(recorded_year, tmp_path)
    rc, out = run_check(recorded_year, "2019-09-01", "--json")
    assert rc == 1
    found = [json.loads(line) for line in out.splitlines()]
    missing = {f["ori"]: f for f in found if f["kind"] == "missing"}
    assert set(missing) == set(recorded_year.year.never_filers)  # USCIS LA and Anaheim PD never filed
    with AuditStore(recorded_year.db_url) as store:
        queries = {c.ori: 0 for c in store.verdict_counts("y2018")}
        for c in store.verdict_counts("y2018"):
            queries[c.ori] += c.queries
    for ori, f in missing.items():
        assert f["queries"] == queries[ori] > 0 and f["days_late"] == 212
    late = [f for f in found if f["kind"] == "late"]
    assert [(f["ori"], f["filed_at"][:10], f["days_late"]) for f in late] == [
        ("CAICE0100", "2019-06-14", 133)
    ]
    contradictions = {f["ori"]: f for f in found if f["kind"] == "zero_reported_but_alerted"}
    # the raiding ICE-ERO office reported zero investigations while its prohibited queries raised alerts
    assert "CAICE0100" in contradictions and contradictions["CAICE0100"]["prohibited_alerts"] > 0
    assert all(f["investigations"] == 0 for f in contradictions.values())
    rc, text = run_check(recorded_year, "2019-09-01")
    assert "missing" in text and "CACIS0100" in text and "USCIS Los Angeles Field Office" in text
    # before the deadline nothing is missing yet
    rc, out = run_check(recorded_year, "2019-01-20", "--json")
    assert "missing" not in {json.loads(x)["kind"] for x in out.splitlines()}


def test_the_report_renders_charts_tables_and_totals(recorded_year: RecordedYear, tmp_path: Path) -> None:
    import_filings(recorded_year, tmp_path)
    out_dir = tmp_path / "report"
    rc, out = run_report(recorded_year, out_dir, *YEAR_2018, "--json")
    assert rc == 0
    summary = json.loads(out)
    html = (out_dir / "report.html").read_text()
    page = Page()
    page.feed(html)
    with AuditStore(recorded_year.db_url) as store:
        run = store.require_run("y2018")
        alerts = store.alerts("y2018")
    # one chart per component group + share + prohibited + rules + operators
    assert page.svgs >= 8
    assert {"table-disclosures", "table-operators", "table-agencies"} <= set(page.tables)
    assert page.values["total-queries"] == str(run.counts["events"])
    assert page.values["total-prohibited"] == str(run.counts["verdicts"]["prohibited"])
    assert page.values["total-alerts"] == str(sum(a["status"] == "fired" for a in alerts))
    assert int(page.values["total-findings"]) == summary["findings"] >= 3
    for name in (
        "queries_by_source.csv",
        "immigration_share.csv",
        "prohibited_by_month.csv",
        "alerts_by_rule.csv",
        "operators.csv",
        "agencies.csv",
        "disclosures.csv",
    ):
        assert name in page.links and (out_dir / name).is_file()
    with (out_dir / "queries_by_source.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert sum(int(r["queries"]) for r in rows) == run.counts["events"]
    assert {"ICE-ERO", "CBP", "USCIS", "ICE-HSI"} <= {r["component"] for r in rows}
    with (out_dir / "alerts_by_rule.csv").open() as fh:
        assert sum(int(r["fired"]) for r in csv.DictReader(fh)) == int(page.values["total-alerts"])
    assert "ICE Enforcement and Removal Operations - Los Angeles Field Office" in html
    assert not re.search(r"operator_id|\bsubject\b\"", html)  # pseudonyms only


def test_a_component_report_holds_only_that_component(recorded_year: RecordedYear, tmp_path: Path) -> None:
    out_dir = tmp_path / "ero"
    rc, _out = run_report(recorded_year, out_dir, "--component", "ICE-ERO", "--json")
    assert rc == 0
    with (out_dir / "agencies.csv").open() as fh:
        assert {r["component"] for r in csv.DictReader(fh)} == {"ICE-ERO"}


def test_report_files_are_owner_only(recorded_year: RecordedYear, tmp_path: Path) -> None:
    """An audit report names agencies and operator pseudonyms: its folder is 0700, its files 0600 (the
    PNG screenshot too), also when they were there before with wider permissions."""
    out_dir = tmp_path / "private-report"
    out_dir.mkdir(mode=0o755)
    (out_dir / "report.html").write_text("old")
    (out_dir / "report.html").chmod(0o644)
    rc, _ = run_report(recorded_year, out_dir / "new", *YEAR_2018)
    assert rc == 0
    assert (out_dir / "new").stat().st_mode & 0o777 == 0o700
    rc, _ = run_report(
        recorded_year, out_dir, *YEAR_2018, "--png"
    )  # the screenshot too (a new user's finding)
    assert rc == 0 and (out_dir / "report.png").is_file()
    files = [p for d in (out_dir, out_dir / "new") for p in d.iterdir() if p.is_file()]
    assert len(files) > 4
    assert {p.name: p.stat().st_mode & 0o777 for p in files} == {p.name: 0o600 for p in files}
