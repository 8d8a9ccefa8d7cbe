"""``clets-watch report``: the audit report of a recorded run — HTML with charts, CSVs, PDF if possible.

clets-watch report --run RUN --out DIR [--year Y] [--department D] [--component C] [--ori ORI]
                   [--as-of TIME] [--no-pdf] [--png] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import IO

from clets_watch.cli import UserError
from clets_watch.commands.options import Subcommands, add_command, add_db, add_json
from clets_watch.settings import get_settings


def register(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "report",
        run=run,
        help="the audit report of a recorded replay run: HTML with charts, a CSV per chart, PDF if possible",
        description=(
            "Build the audit report of an audit run (clets-watch replay --record): queries by data source per "
            "component per month, immigration-purpose share, prohibited queries, top rules, operators with the most "
            "flags (pseudonyms), agencies, and the annual misuse-disclosure findings."
        ),
    )
    p.add_argument(
        "--run", required=True, metavar="RUN", help="audit run id (clets-watch replay --list-runs)"
    )
    p.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="folder for report.html and the CSVs"
    )
    p.add_argument("--year", type=int, help="only this calendar year (Pacific)")
    p.add_argument("--department", help="only agencies of this department, e.g. DHS")
    p.add_argument("--component", help="only this component, e.g. ICE-ERO")
    p.add_argument("--ori", help="only this agency")
    p.add_argument(
        "--as-of", metavar="TIME", help="judge disclosure deadlines as of this time (default: now)"
    )
    p.add_argument(
        "--agencies", type=Path, metavar="FILE", help="agency registry CSV for names (default: bundled)"
    )
    add_db(p)
    p.add_argument("--no-pdf", action="store_true", help="skip the PDF")
    p.add_argument("--png", action="store_true", help="also a PNG screenshot of the page (needs chromium)")
    add_json(p, "one summary line (files, totals)")


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    from clets_watch.commands.replay import parse_time
    from clets_watch.report.builder import build, screenshot, write_report
    from processors.agencies import AgencyRegistry, RegistryError
    from sinks.audit import AuditError, AuditStore, Filters

    out = out or sys.stdout
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} is a file; give a folder")
    as_of = parse_time(args.as_of, flag="--as-of") if args.as_of else dt.datetime.now(dt.UTC)
    try:
        registry = AgencyRegistry.load(args.agencies) if args.agencies else AgencyRegistry.load()
    except RegistryError as exc:
        raise UserError(str(exc)) from None
    filters = Filters(year=args.year, department=args.department, component=args.component, ori=args.ori)
    url = args.db or get_settings().database_url
    store = AuditStore(url)
    try:
        data = build(store, args.run, filters, registry=registry, as_of=as_of)
    except AuditError as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()
    if data.totals["queries"] == 0:
        print(f"warning: run {args.run} has no queries matching {filters.describe()}", file=sys.stderr)
    result = write_report(data, args.out, pdf=not args.no_pdf)
    png = None
    if args.png:
        png = args.out / "report.png"
        if not screenshot(result.html, png):
            png = None
    summary = {
        "run": args.run,
        "filters": filters.describe(),
        "html": str(result.html),
        "csv": [str(p) for p in result.csvs],
        "pdf": str(result.pdf) if result.pdf else None,
        "pdf_note": result.pdf_note,
        "png": str(png) if png else None,
        "totals": data.totals,
        "findings": sum(f.is_violation for f in data.findings),
    }
    if args.json:
        out.write(json.dumps(summary, sort_keys=True) + "\n")
    else:
        out.write(f"report: {result.html}\n")
        out.write(
            f"  {data.totals['queries']:,} queries, {data.totals['prohibited']:,} prohibited, "
            f"{data.totals['alerts_fired']:,} alerts fired, {summary['findings']} disclosure findings\n"
        )
        out.write(f"  CSV: {', '.join(p.name for p in result.csvs)}\n")
        out.write(f"  {result.pdf_note}\n")
        if png:
            out.write(f"  PNG: {png}\n")
    return 0
