"""``clets-watch disclosures``: record agencies' annual misuse disclosures and flag who did not file.

    clets-watch disclosures import FILE.csv            (header ori,year,filed_at,investigations[,outcomes])
    clets-watch disclosures add --ori ORI --year Y --filed-at DATE --investigations N [--outcomes TEXT]
    clets-watch disclosures list [--year Y] [--json]
    clets-watch disclosures check --year Y [--run RUN] [--as-of TIME] [--json]

``check`` flags every agency with CLETS activity in the year and no disclosure by the deadline
(1 February of the next year), late filings, and agencies that reported zero misuse investigations
while clets-watch raised prohibited-query alerts for them — from an audit run (``--run``) or the live
tables. Exit code 1 when there is a finding (for cron and CI), 0 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import IO, Any

from clets_watch.cli import UserError
from clets_watch.commands.options import Subcommands, add_command, add_db, add_json
from clets_watch.settings import get_settings
from processors.agencies import AgencyRegistry
from processors.disclosures import (
    FilingError,
    Finding,
    check,
    deadline,
    due_date,
    parse_filed_at,
    parse_filings,
)


def register(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "disclosures",
        run=run,
        help="record annual misuse disclosures; flag agencies that did not file or reported zero while alerted",
        description="Agencies' annual misuse-investigation disclosures (deadline: 1 February for the previous year).",
    )
    add_db(p)
    sp = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = sp.add_parser(
        "import", help="import filings from a CSV (ori,year,filed_at,investigations[,outcomes])"
    )
    imp.add_argument("file", type=Path)
    add = sp.add_parser("add", help="record (or correct) one agency's disclosure")
    add.add_argument("--ori", required=True)
    add.add_argument("--year", type=int, required=True)
    add.add_argument("--filed-at", required=True, metavar="DATE", help="YYYY-MM-DD or an RFC 3339 time")
    add.add_argument("--investigations", type=int, required=True, metavar="N")
    add.add_argument("--outcomes", metavar="TEXT")
    ls = sp.add_parser("list", help="list recorded disclosures")
    ls.add_argument("--year", type=int)
    add_json(ls, "one filing per line")
    ck = sp.add_parser("check", help="flag missing, late and contradictory disclosures for a year")
    ck.add_argument("--year", type=int, required=True)
    ck.add_argument(
        "--run", metavar="RUN", help="take activity and alerts from this audit run (default: live tables)"
    )
    ck.add_argument("--as-of", metavar="TIME", help="check as of this time (default: now)")
    ck.add_argument(
        "--agencies", type=Path, metavar="FILE", help="agency registry CSV for names (default: bundled)"
    )
    add_json(ck, "one finding per line")
    for sub_p in (imp, add, ls, ck):
        add_db(sub_p, suppress=True)


def _store(args: argparse.Namespace) -> Any:
    from sqlalchemy.exc import SQLAlchemyError

    from sinks.audit import AuditStore
    from sinks.db import SinkError

    url = getattr(args, "db", None) or get_settings().database_url
    try:
        return AuditStore(url)
    except (SinkError, SQLAlchemyError) as exc:
        raise UserError(f"cannot open the database {url.split('@')[-1]}: {exc}") from None


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    handler = {"import": _import, "add": _add, "list": _list, "check": _check}[args.action]
    return handler(args, out)


def _import(args: argparse.Namespace, out: IO[str]) -> int:
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {args.file}: {exc}") from None
    try:
        rows = parse_filings(text, source=str(args.file))
    except FilingError as exc:
        raise UserError(str(exc)) from None
    store = _store(args)
    try:
        for f in rows:
            store.disclosures.record(
                f.ori,
                f.year,
                filed_at=f.filed_at,
                investigations_opened=f.investigations,
                outcomes=f.outcomes,
            )
    finally:
        store.close()
    years = sorted({f.year for f in rows})
    out.write(
        f"imported {len(rows)} disclosures from {args.file} (years: {', '.join(map(str, years)) or '-'})\n"
    )
    return 0


def _add(args: argparse.Namespace, out: IO[str]) -> int:
    if len(args.ori.strip()) != 9:
        raise UserError(f"--ori {args.ori!r} is not 9 characters")
    if args.investigations < 0:
        raise UserError(f"--investigations must be >= 0, got {args.investigations}")
    try:
        filed = parse_filed_at(args.filed_at, where="--filed-at")
    except FilingError as exc:
        raise UserError(str(exc)) from None
    store = _store(args)
    try:
        store.disclosures.record(
            args.ori.strip(),
            args.year,
            filed_at=filed,
            investigations_opened=args.investigations,
            outcomes=args.outcomes,
        )
    finally:
        store.close()
    due = deadline(args.year)
    note = "on time" if filed is None or filed < due else f"LATE (due {due_date(args.year)})"
    out.write(
        f"recorded {args.ori} {args.year}: {args.investigations} investigations, filed {args.filed_at} ({note})\n"
    )
    return 0


def _list(args: argparse.Namespace, out: IO[str]) -> int:
    store = _store(args)
    try:
        rows = store.disclosures.filings(year=args.year)
    finally:
        store.close()
    if args.json:
        for r in rows:
            out.write(
                json.dumps(
                    {
                        "ori": r.ori,
                        "year": r.year,
                        "filed_at": r.filed_at.isoformat() if r.filed_at else None,
                        "investigations": r.investigations_opened,
                        "outcomes": r.outcomes,
                    },
                    sort_keys=True,
                )
                + "\n"
            )
        return 0
    out.write(f"{'ORI':<10} {'YEAR':<5} {'FILED':<11} {'ON TIME':<8} {'INVEST.':>7}  OUTCOMES\n")
    for r in rows:
        on_time = "-" if r.filed_at is None else ("yes" if r.filed_at < deadline(r.year) else "LATE")
        filed = r.filed_at.date().isoformat() if r.filed_at else "-"
        inv = "-" if r.investigations_opened is None else str(r.investigations_opened)
        out.write(f"{r.ori:<10} {r.year:<5} {filed:<11} {on_time:<8} {inv:>7}  {r.outcomes or ''}\n")
    return 0


def findings_for(
    store: Any, year: int, run_id: str | None, as_of: dt.datetime, registry: AgencyRegistry | None = None
) -> list[Finding]:
    """Activity (run or live) + recorded filings → findings, with agency names from the registry."""
    import dataclasses

    from sinks.audit import agency_years, filings

    reg = registry or AgencyRegistry.load()
    activity = [
        dataclasses.replace(
            a,
            name=(reg.get(a.ori).name if reg.get(a.ori) else None),  # type: ignore[union-attr]
            component=a.component or (reg.get(a.ori).component if reg.get(a.ori) else None),  # type: ignore[union-attr]
            department=a.department or (reg.get(a.ori).department if reg.get(a.ori) else None),  # type: ignore[union-attr]
        )
        for a in agency_years(store, year, run_id)
    ]
    return check(activity, filings(store, year), year=year, as_of=as_of)


def _check(args: argparse.Namespace, out: IO[str]) -> int:
    from clets_watch.commands.replay import parse_time
    from sinks.audit import AuditError

    as_of = parse_time(args.as_of, flag="--as-of") if args.as_of else dt.datetime.now(dt.UTC)
    registry = AgencyRegistry.load(args.agencies) if args.agencies else None
    store = _store(args)
    try:
        found = findings_for(store, args.year, args.run, as_of, registry)
    except AuditError as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()
    if args.json:
        for f in found:
            out.write(json.dumps(f.to_json(), sort_keys=True) + "\n")
    else:
        write_findings(found, args.year, args.run or "live tables", as_of, out)
    return 1 if any(f.is_violation for f in found) else 0


def write_findings(found: list[Finding], year: int, source: str, as_of: dt.datetime, out: IO[str]) -> None:
    out.write(
        f"misuse disclosures for {year} (due {due_date(year)}), activity from {source}, "
        f"as of {as_of.date()}: {sum(f.is_violation for f in found)} findings\n"
    )
    if not found:
        return
    out.write(f"{'FINDING':<26} {'ORI':<10} {'COMPONENT':<10} {'QUERIES':>9} {'ALERTS':>7}  DETAIL\n")
    for f in found:
        a = f.agency
        out.write(
            f"{f.kind:<26} {a.ori:<10} {(a.component or '-'):<10} {a.queries:>9,} {a.alerts:>7}  "
            f"{a.name or ''}: {f.describe()}\n"
        )
