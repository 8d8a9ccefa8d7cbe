"""The audit report: an audit run's counts, alerts and the disclosure check, as HTML with inline SVG
charts, the CSV behind every chart and table, and a PDF when a converter (headless Chromium or
wkhtmltopdf) is installed.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO, Any, Final

import jinja2

from clets_watch.report import charts
from processors.agencies import AgencyRegistry
from processors.disclosures import KIND_LABEL, Finding, due_date
from sinks.audit import AuditStore, Filters, OperatorFlagRow, RunRow, VerdictCountRow

LOCAL: Final = "local & state agencies"
DATA_SOURCES: Final = (
    "criminal_history",
    "dmv_license",
    "dmv_registration",
    "wanted_person",
    "property",
    "corrections",
    "hit_confirmation",
    "unknown",
)
TOP_OPERATORS: Final = 15


@dataclass
class Table:
    """A CSV file and the same rows shown in the HTML."""

    name: str  # file name, e.g. "agencies.csv"
    header: list[str]
    rows: list[list[Any]]


@dataclass
class Chart:
    title: str
    svg: str
    csv: str  # the CSV file behind it
    note: str = ""


@dataclass
class ReportData:
    run: RunRow
    filters: Filters
    generated_at: dt.datetime
    totals: dict[str, int]
    charts: list[Chart] = field(default_factory=list)
    tables: dict[str, Table] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    disclosure_year: int | None = None
    rules_fired: list[tuple[str, int]] = field(default_factory=list)


def _group(row: VerdictCountRow) -> str:
    return row.component or LOCAL


def _group_order(groups: Sequence[str], dhs: set[str]) -> list[str]:
    return sorted(groups, key=lambda g: (g == LOCAL, g not in dhs, g))


def _months(rows: Sequence[VerdictCountRow], year: int | None) -> list[str]:
    if year is not None:
        return [f"{year:04d}-{m:02d}" for m in range(1, 13)]
    return sorted({r.month for r in rows})


def build(
    store: AuditStore,
    run_id: str,
    filters: Filters,
    *,
    registry: AgencyRegistry | None = None,
    as_of: dt.datetime | None = None,
) -> ReportData:
    from clets_watch.commands.disclosures import findings_for

    run = store.require_run(run_id)
    reg = registry or AgencyRegistry.load()
    rows = store.verdict_counts(run_id, filters)
    alerts = store.alerts(run_id, filters)
    operators = store.operator_flags(run_id, filters, limit=TOP_OPERATORS)
    now = as_of or dt.datetime.now(dt.UTC)
    months = _months(rows, filters.year)
    dhs = {r.component for r in rows if r.department == "DHS" and r.component}
    groups = _group_order(list({_group(r) for r in rows}), dhs)
    fired = [a for a in alerts if a.get("status") == "fired"]
    totals = {
        "queries": sum(r.queries for r in rows),
        "prohibited": sum(r.queries for r in rows if r.verdict == "prohibited"),
        "review": sum(r.queries for r in rows if r.verdict == "review"),
        "immigration": sum(r.queries for r in rows if r.purpose == "immigration_enforcement"),
        "agencies": len({r.ori for r in rows}),
        "alerts_fired": len(fired),
        "alerts_suppressed": len(alerts) - len(fired),
    }
    data = ReportData(run=run, filters=filters, generated_at=now, totals=totals)

    # 1. queries by data source, per component, per month
    by: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in rows:
        by[(r.month, _group(r), r.data_source)] += r.queries
    data.tables["queries_by_source.csv"] = Table(
        "queries_by_source.csv",
        ["month", "component", "data_source", "queries"],
        [[m, g, s, n] for (m, g, s), n in sorted(by.items())],
    )
    sources = [s for s in DATA_SOURCES if any(k[2] == s for k in by)] + sorted(
        {k[2] for k in by} - set(DATA_SOURCES)
    )
    for g in groups:
        series = {s: [float(by.get((m, g, s), 0)) for m in months] for s in sources}
        series = {s: v for s, v in series.items() if any(v)}
        total = int(sum(sum(v) for v in series.values()))
        data.charts.append(
            Chart(
                f"{g}: queries by data source per month ({total:,} queries)",
                charts.stacked_bars(f"{g} — queries by data source", months, series),
                "queries_by_source.csv",
            )
        )

    # 2. immigration-purpose share per component per month
    imm: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        cell = imm[(r.month, _group(r))]
        cell[1] += r.queries
        if r.purpose == "immigration_enforcement":
            cell[0] += r.queries
    data.tables["immigration_share.csv"] = Table(
        "immigration_share.csv",
        ["month", "component", "immigration_queries", "queries", "share"],
        [[m, g, a, b, f"{a / b:.4f}" if b else ""] for (m, g), (a, b) in sorted(imm.items())],
    )
    share_series = {
        g: [(imm[(m, g)][0] / imm[(m, g)][1]) if imm.get((m, g)) and imm[(m, g)][1] else None for m in months]
        for g in groups
    }
    data.charts.append(
        Chart(
            "Immigration-enforcement share of queries, per component and month",
            charts.lines(
                "Immigration-enforcement purpose, share of each component's queries", months, share_series
            ),
            "immigration_share.csv",
            "Criminal-history queries stay allowed under the federal-law exception (POL-2a) but "
            "count here; other sources for immigration enforcement are prohibited (POL-2b).",
        )
    )

    # 3. prohibited queries per month, by component
    pro: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        if r.verdict == "prohibited":
            pro[(r.month, _group(r))] += r.queries
    data.tables["prohibited_by_month.csv"] = Table(
        "prohibited_by_month.csv",
        ["month", "component", "prohibited_queries"],
        [[m, g, n] for (m, g), n in sorted(pro.items())],
    )
    pro_groups = [g for g in groups if any(k[1] == g for k in pro)]
    data.charts.append(
        Chart(
            f"Prohibited queries per month ({totals['prohibited']:,})",
            charts.stacked_bars(
                "Prohibited queries per month, by component",
                months,
                {g: [float(pro.get((m, g), 0)) for m in months] for g in pro_groups},
            ),
            "prohibited_by_month.csv",
        )
    )

    # 4. top rules
    rule_rows: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for a in alerts:
        rule_rows[(a["rule"], a["severity"])][0 if a.get("status") == "fired" else 1] += 1
    ranked = sorted(rule_rows.items(), key=lambda kv: (-kv[1][0], kv[0]))
    data.tables["alerts_by_rule.csv"] = Table(
        "alerts_by_rule.csv",
        ["rule", "severity", "fired", "suppressed"],
        [[r, s, f, u] for (r, s), (f, u) in ranked],
    )
    data.rules_fired = [(f"{r} ({s})", f) for (r, s), (f, _u) in ranked]
    data.charts.append(
        Chart(
            f"Alerts fired by rule ({totals['alerts_fired']:,})",
            charts.hbars(
                "Alerts fired, by rule",
                [x for x, _ in data.rules_fired],
                [float(n) for _, n in data.rules_fired],
            ),
            "alerts_by_rule.csv",
        )
    )

    # 5. operators with most flags (pseudonyms only)
    data.tables["operators.csv"] = Table(
        "operators.csv",
        ["ori", "agency", "component", "operator_pseudonym", "queries", "prohibited", "review", "flagged"],
        [
            [
                o.ori,
                _name(reg, o.ori),
                o.component or "",
                o.operator,
                o.queries,
                o.prohibited,
                o.review,
                o.flagged,
            ]
            for o in operators
        ],
    )
    data.charts.append(
        Chart(
            f"Operators with the most flagged queries (top {TOP_OPERATORS}, by pseudonym)",
            charts.hbars(
                "Flagged queries (prohibited + review) per operator pseudonym",
                [_op_label(o) for o in operators],
                [float(o.flagged) for o in operators],
                color=charts.PALETTE[5],
                label_width=260,
            ),
            "operators.csv",
            "Operators appear only as keyed pseudonyms; identifying a person needs the key holder.",
        )
    )

    # agencies table
    per: dict[str, dict[str, Any]] = {}
    for r in rows:
        a = per.setdefault(
            r.ori, {"component": r.component, "queries": 0, "prohibited": 0, "review": 0, "immigration": 0}
        )
        a["queries"] += r.queries
        a["prohibited"] += r.queries if r.verdict == "prohibited" else 0
        a["review"] += r.queries if r.verdict == "review" else 0
        a["immigration"] += r.queries if r.purpose == "immigration_enforcement" else 0
    alerts_by_ori: dict[str, int] = defaultdict(int)
    for a in fired:
        alerts_by_ori[a["ori"]] += 1
    agency_rows = sorted(
        per.items(),
        key=lambda kv: (kv[1]["component"] is None, -kv[1]["prohibited"], -kv[1]["queries"], kv[0]),
    )
    data.tables["agencies.csv"] = Table(
        "agencies.csv",
        [
            "ori",
            "agency",
            "component",
            "queries",
            "prohibited",
            "review",
            "immigration_share",
            "alerts_fired",
        ],
        [
            [
                ori,
                _name(reg, ori),
                a["component"] or "",
                a["queries"],
                a["prohibited"],
                a["review"],
                f"{a['immigration'] / a['queries']:.4f}" if a["queries"] else "",
                alerts_by_ori.get(ori, 0),
            ]
            for ori, a in agency_rows
        ],
    )

    _evidence_tables(data, alerts, reg)

    # disclosures
    year = filters.year or (run.first_event_at.astimezone(_pacific()).year if run.first_event_at else None)
    if year is not None:
        data.disclosure_year = year
        found = findings_for(store, year, run_id, now, reg)
        keep = {r.ori for r in rows}
        data.findings = [f for f in found if f.ori in keep]
        data.tables["disclosures.csv"] = Table(
            "disclosures.csv",
            [
                "finding",
                "ori",
                "agency",
                "component",
                "year",
                "queries",
                "alerts_fired",
                "prohibited_query_alerts",
                "filed_at",
                "investigations_reported",
                "days_late",
                "detail",
            ],
            [
                [
                    f.kind,
                    f.ori,
                    f.agency.name or "",
                    f.agency.component or "",
                    year,
                    f.agency.queries,
                    f.agency.alerts,
                    f.agency.prohibited_alerts,
                    f.filing.filed_at.astimezone(_pacific()).date().isoformat()
                    if f.filing and f.filing.filed_at
                    else "",
                    "" if f.filing is None or f.filing.investigations is None else f.filing.investigations,
                    "" if f.days_late is None else f.days_late,
                    f.describe(),
                ]
                for f in data.findings
            ],
        )
    return data


SEVERITY_RANK = {"critical": 0, "high": 1, "warning": 2, "info": 3}


def _evidence_tables(data: ReportData, alerts: Sequence[dict[str, Any]], reg: AgencyRegistry) -> None:
    """The evidence appendix: every alert with its incident, event ids and source offsets (alerts.csv), and
    the incidents the alerts form (incidents.csv, also a table in the report) — what an auditor cites."""
    data.tables["alerts.csv"] = Table(
        "alerts.csv",
        [
            "alert_id",
            "incident_id",
            "rule",
            "severity",
            "status",
            "ori",
            "component",
            "window_start",
            "window_end",
            "evidence_count",
            "event_ids",
            "offsets",
            "policy_rules",
            "summary",
        ],
        [
            [
                a["alert_id"],
                a.get("incident_id") or "",
                a["rule"],
                a["severity"],
                a.get("status", "fired"),
                a["ori"],
                a.get("component") or "",
                a["window_start"],
                a["window_end"],
                a["evidence"]["count"],
                " ".join(a["evidence"].get("event_ids", [])),
                " ".join(a["evidence"].get("offsets", [])),
                " ".join(a["evidence"].get("policy_rules", [])),
                a["summary"],
            ]
            for a in alerts
        ],
    )
    per: dict[str, dict[str, Any]] = {}
    for a in alerts:
        iid = a.get("incident_id")
        if not iid:
            continue
        inc = per.setdefault(
            iid,
            {
                "ori": a["ori"],
                "component": a.get("component") or "",
                "severity": a["severity"],
                "first": a["window_start"],
                "last": a["window_end"],
                "alerts": 0,
                "fired": 0,
                "rules": defaultdict(int),
                "events": [],
                "offsets": [],
            },
        )
        inc["alerts"] += 1
        inc["fired"] += a.get("status", "fired") == "fired"
        inc["rules"][a["rule"]] += 1
        inc["first"] = min(inc["first"], a["window_start"])
        inc["last"] = max(inc["last"], a["window_end"])
        if SEVERITY_RANK.get(a["severity"], 9) < SEVERITY_RANK.get(inc["severity"], 9):
            inc["severity"] = a["severity"]
        for e in a["evidence"].get("event_ids", [])[:2]:
            if len(inc["events"]) < 10:
                inc["events"].append(e)
        for o in a["evidence"].get("offsets", [])[:2]:
            if len(inc["offsets"]) < 10:
                inc["offsets"].append(o)
    ranked = sorted(
        per.items(), key=lambda kv: (SEVERITY_RANK.get(kv[1]["severity"], 9), -kv[1]["alerts"], kv[0])
    )
    data.tables["incidents.csv"] = Table(
        "incidents.csv",
        [
            "incident_id",
            "severity",
            "ori",
            "agency",
            "component",
            "first_window_start",
            "last_window_end",
            "alerts",
            "fired",
            "rules",
            "event_ids",
            "offsets",
        ],
        [
            [
                iid,
                i["severity"],
                i["ori"],
                _name(reg, i["ori"]),
                i["component"],
                i["first"],
                i["last"],
                i["alerts"],
                i["fired"],
                " ".join(f"{r}:{n}" for r, n in sorted(i["rules"].items())),
                " ".join(i["events"]),
                " ".join(i["offsets"]),
            ]
            for iid, i in ranked
        ],
    )


def _pacific() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("America/Los_Angeles")


def _name(reg: AgencyRegistry, ori: str) -> str:
    agency = reg.get(ori)
    return agency.name if agency else "(not in the agency registry)"


def _op_label(o: OperatorFlagRow) -> str:
    return f"{o.ori} · {o.operator[:12]}"


# ------------------------------------------------------------------------------------ rendering


@dataclass
class RenderResult:
    html: Path
    csvs: list[Path]
    pdf: Path | None
    pdf_note: str


def _env() -> jinja2.Environment:
    text = resources.files("clets_watch.report").joinpath("templates/report.html").read_text(encoding="utf-8")
    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters["num"] = lambda v: f"{v:,}" if isinstance(v, int) else v
    env.filters["pacific_date"] = lambda v: v.astimezone(_pacific()).date().isoformat() if v else ""
    env.globals["template_text"] = text
    return env


def render_html(data: ReportData) -> str:
    env = _env()
    template = env.from_string(env.globals["template_text"])  # type: ignore[arg-type]
    return template.render(
        d=data,
        due=due_date(data.disclosure_year) if data.disclosure_year else None,
        local=LOCAL,
        kind_label=KIND_LABEL,
    )


def _private_text(path: Path) -> IO[str]:
    """Open ``path`` for writing, owner-only (0600) even when it existed with wider permissions."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "w", newline="", encoding="utf-8")


#: what a spreadsheet takes as the start of a formula (OWASP "CSV injection")
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A cell a spreadsheet shows as text: a string that starts like a formula (an event id such as
    ``=HYPERLINK(...)``) gets a leading ``'`` (OWASP); numbers are written as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(table: Table, path: Path) -> Path:
    """``table`` as an owner-only CSV file, every formula-like cell neutralised (``csv_cell``)."""
    with _private_text(path) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([csv_cell(c) for c in table.header])
        writer.writerows([csv_cell(c) for c in row] for row in table.rows)
    return path


def write_report(data: ReportData, out_dir: Path, *, pdf: bool = True) -> RenderResult:
    """Write the CSVs, the HTML and (when a converter is there) the PDF, every file owner-only
    (0600) and a new folder 0700: an audit report names agencies and operator pseudonyms."""
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    csvs = []
    for table in data.tables.values():
        csvs.append(write_csv(table, out_dir / table.name))
    html = out_dir / "report.html"
    with _private_text(html) as fh:
        fh.write(render_html(data))
    pdf_path: Path | None = None
    note = "PDF not requested"
    if pdf:
        pdf_path, note = html_to_pdf(html, out_dir / "report.pdf")
        if pdf_path is not None:
            pdf_path.chmod(0o600)
    return RenderResult(html, csvs, pdf_path, note)


def find_browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def html_to_pdf(html: Path, pdf: Path, *, timeout: float = 120.0) -> tuple[Path | None, str]:
    """Convert with headless Chromium, else wkhtmltopdf; (None, why) when neither is installed or it fails."""
    browser = find_browser()
    if browser:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            html.resolve().as_uri(),
        ]
    elif shutil.which("wkhtmltopdf"):
        cmd = ["wkhtmltopdf", "--quiet", str(html), str(pdf)]
    else:
        return None, "no PDF: neither chromium nor wkhtmltopdf is installed (the HTML report is complete)"
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"no PDF: {Path(cmd[0]).name} failed ({exc})"
    if proc.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        return None, f"no PDF: {Path(cmd[0]).name} exited {proc.returncode}: {proc.stderr.strip()[-300:]}"
    return pdf, f"PDF written with {Path(cmd[0]).name}"


def screenshot(
    html: Path, png: Path, *, width: int = 1280, height: int = 6000, timeout: float = 120.0
) -> bool:
    """A PNG of the rendered report (headless Chromium), for a person to look at; False without Chromium."""
    browser = find_browser()
    if not browser:
        return False
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
        f"--screenshot={png}",
        html.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0 or not png.exists():
        return False
    png.chmod(0o600)  # owner-only, like the report's other files
    return True
