"""``clets-watch alerts``: list, show, acknowledge and resolve alerts in the database.

clets-watch alerts [list] [--rule R] [--ori O] [--severity S] [--status STATE] [--limit N] [--json]
clets-watch alerts show ALERT_ID [--json]
clets-watch alerts ack ALERT_ID --by NAME --note TEXT
clets-watch alerts resolve ALERT_ID --by NAME --note TEXT
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import IO, Any, get_args

from schemas.outputs import Severity

ALERT_STATES = ("fired", "suppressed", "acknowledged", "resolved")
SUMMARY_WIDTH = 60

_Sub = argparse._SubParsersAction


def _add_db(p: argparse.ArgumentParser, *, suppress: bool) -> None:
    p.add_argument(
        "--db",
        default=argparse.SUPPRESS if suppress else None,
        help="database URL (default: CLETS_WATCH_DB_URL or sqlite:///.clets-watch/clets-watch.db)",
    )


def _add_list_options(p: argparse.ArgumentParser, *, suppress: bool) -> None:
    # On both `alerts` and `alerts list`; SUPPRESS keeps the sub-parser from resetting what the
    # parent parsed (argparse copies sub-parser defaults over the parent's values).
    default: Any = argparse.SUPPRESS if suppress else None
    p.add_argument("--rule", default=default, help="only alerts of this rule")
    p.add_argument("--ori", default=default, help="only alerts of this agency (ORI)")
    p.add_argument("--severity", default=default, choices=get_args(Severity), help="only this severity")
    p.add_argument("--status", default=default, choices=ALERT_STATES, help="only alerts in this state now")
    p.add_argument(
        "--limit",
        type=int,
        default=argparse.SUPPRESS if suppress else 100,
        help="at most N alerts (default 100)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="a JSON array, for scripts",
    )


def register(sub: _Sub[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "alerts",
        help="list, show, acknowledge and resolve alerts",
        description=(
            "Read the alerts the worker, replay or demo wrote to the database, and record what people "
            "did about them. Every acknowledgement and resolution is a new entry in the alert's "
            "append-only ledger. Without an action, lists alerts."
        ),
    )
    _add_db(p, suppress=False)
    _add_list_options(p, suppress=False)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    p.set_defaults(func=run, action="list", alert_id=None)

    ls = actions.add_parser("list", help="list alerts, newest window first (the default)")
    _add_db(ls, suppress=True)
    _add_list_options(ls, suppress=True)

    show = actions.add_parser("show", help="one alert with its evidence and ledger")
    show.add_argument("alert_id", metavar="ALERT_ID")
    show.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="a JSON object")
    _add_db(show, suppress=True)

    for name, verb in (("ack", "acknowledge"), ("resolve", "resolve")):
        a = actions.add_parser(name, help=f"{verb} an alert (appends to its ledger)")
        a.add_argument("alert_id", metavar="ALERT_ID")
        a.add_argument("--by", required=True, metavar="NAME", help="who is taking the action")
        a.add_argument("--note", required=True, metavar="TEXT", help="what was done or found")
        a.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="the ledger entry as JSON"
        )
        _add_db(a, suppress=True)


def _open_sink(db: str | None) -> Any:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from clets_watch.cli import UserError
    from clets_watch.settings import Settings
    from sinks.db import DatabaseSink, SinkError, sqlite_path

    url = db or Settings().database_url
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises several types for a bad URL
        raise UserError(f"bad database URL {url!r}: {exc}") from None
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise UserError(f"no database at {path}: run `clets-watch demo` or `clets-watch worker` first")
    try:
        sink = DatabaseSink(url, create=False)
        revision = sink.schema_revision()
    except (SQLAlchemyError, SinkError) as exc:
        raise UserError(f"cannot open database {shown}: {_first_line(exc)}") from None
    if revision is None:
        sink.close()
        raise UserError(
            f"database {shown} has no clets-watch tables: run `clets-watch demo` or `clets-watch worker` first"
        )
    return sink


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    from clets_watch.cli import UserError
    from sinks.db import AlertNotFound, SinkError

    out = out or sys.stdout
    sink = _open_sink(args.db)
    try:
        if args.action == "list":
            return _list(sink, args, out)
        if args.action == "show":
            return _show(sink, args, out)
        if args.action in ("ack", "resolve"):
            act = sink.acknowledge if args.action == "ack" else sink.resolve
            entry = act(args.alert_id, args.by, args.note)
            if getattr(args, "json", False):
                print(json.dumps(entry.to_json()), file=out)
            else:
                print(f"{entry.action} {entry.alert_id} by {entry.actor} (ledger entry {entry.id})", file=out)
            return 0
        raise UserError(f"unknown action {args.action!r}")  # pragma: no cover - argparse limits it
    except AlertNotFound:
        raise UserError(f"no alert {args.alert_id!r} in the database") from None
    except SinkError as exc:
        raise UserError(str(exc)) from None
    finally:
        sink.close()


def _list(sink: Any, args: argparse.Namespace, out: IO[str]) -> int:
    from clets_watch.cli import UserError

    if args.limit < 1:
        raise UserError(f"--limit must be at least 1, got {args.limit}")
    rows = sink.list_alerts(
        rule=args.rule, ori=args.ori, severity=args.severity, status=args.status, limit=args.limit
    )
    if args.json:
        print(json.dumps([r.to_json() for r in rows], indent=2), file=out)
        return 0
    if not rows:
        print("no alerts match", file=out)
        return 0
    table = [("ALERT ID", "WINDOW START (UTC)", "RULE", "SEVERITY", "ORI", "COMPONENT", "STATUS", "SUMMARY")]
    for r in rows:
        data = r.to_json()
        table.append(
            (
                r.alert_id,
                data["window_start"],
                r.rule,
                r.severity,
                r.ori,
                r.component or "-",
                r.status,
                _clip(r.summary, SUMMARY_WIDTH),
            )
        )
    _print_table(table, out)
    print(
        f"{len(rows)} alert(s){' (limit reached: use --limit)' if len(rows) == args.limit else ''}", file=out
    )
    return 0


def _show(sink: Any, args: argparse.Namespace, out: IO[str]) -> int:
    from sinks.db import AlertNotFound

    alert = sink.get_alert(args.alert_id)
    if alert is None:
        raise AlertNotFound(args.alert_id)
    ledger = sink.alert_ledger(args.alert_id)
    if getattr(args, "json", False):
        print(json.dumps({**alert.to_json(), "ledger": [e.to_json() for e in ledger]}, indent=2), file=out)
        return 0
    data = alert.to_json()
    ev = alert.evidence
    status = (
        alert.status if alert.status == alert.raised_as else f"{alert.status} (raised as {alert.raised_as})"
    )
    lines = [
        f"alert     {alert.alert_id}",
        f"rule      {alert.rule} v{alert.rule_version}",
        f"severity  {alert.severity}",
        f"status    {status}" + (f": {alert.suppressed_reason}" if alert.suppressed_reason else ""),
        f"agency    {alert.ori}" + (f" ({alert.component})" if alert.component else ""),
        f"key       {alert.key}",
        f"window    {data['window_start']} .. {data['window_end']}",
        f"summary   {alert.summary}",
        f"evidence  {ev.get('count', 0)} event(s)",
    ]
    if ev.get("counts"):
        lines.append("  counts: " + ", ".join(f"{k}={_num(v)}" for k, v in sorted(ev["counts"].items())))
    if ev.get("policy_rules"):
        lines.append("  policy rules: " + ", ".join(ev["policy_rules"]))
    if ev.get("event_ids"):
        lines.append(f"  sample event ids ({len(ev['event_ids'])}): " + ", ".join(ev["event_ids"][:10]))
    if ev.get("offsets"):
        lines.append("  sources: " + ", ".join(ev["offsets"][:10]))
    lines.append(f"first seen {data['first_seen_at']}")
    lines.append("ledger:")
    for e in ledger:
        when = e.to_json()["at"]
        lines.append(f"  {when}  {e.action:<12} by {e.actor}" + (f": {e.note}" if e.note else ""))
    print("\n".join(lines), file=out)
    return 0


def _num(v: Any) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_table(rows: Sequence[Sequence[str]], out: IO[str]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip(), file=out)
