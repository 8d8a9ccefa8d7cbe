"""``clets-watch alerts``: list, show, acknowledge and resolve alerts in the database.

clets-watch alerts [list] [--rule R] [--ori O] [--severity S] [--status STATE] [--limit N] [--json]
clets-watch alerts show ALERT_ID [--json]
clets-watch alerts ack ALERT_ID --by NAME --note TEXT [--users FILE] [--password-file FILE]
clets-watch alerts resolve ALERT_ID --by NAME --note TEXT [--users FILE] [--password-file FILE]
clets-watch alerts verify [--expect-head HASH] [--json]

``--by`` must name a console user with the responder role or above (the users file of
``clets-watch serve``), proven by their password (clets_watch.actor); the pipeline's own names are
reserved, and the note records that the action came from the CLI. Everything printed for a person is
sanitised (``clets_watch.terminal.clean``): a note cannot move the cursor or fake a ledger line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, get_args

from clets_watch.actor import cli_note, cli_text
from clets_watch.commands.options import Subcommands, add_command, add_db, add_json, add_show_and_act
from clets_watch.terminal import clean
from schemas.outputs import Severity

if TYPE_CHECKING:
    from sinks.alert_store import AlertStore

ALERT_STATES = ("fired", "suppressed", "acknowledged", "resolved")
SUMMARY_WIDTH = 60


def _add_list_options(p: argparse.ArgumentParser, *, suppress: bool) -> None:
    # On both `alerts` and `alerts list`; SUPPRESS keeps the sub-parser from resetting what the
    # parent parsed (argparse copies sub-parser defaults over the parent's values).
    default: Any = argparse.SUPPRESS if suppress else None
    p.add_argument("--rule", default=default, help="only alerts of this rule")
    p.add_argument("--ori", default=default, help="only alerts of this agency (ORI)")
    p.add_argument("--severity", default=default, choices=get_args(Severity), help="only this severity")
    p.add_argument(
        "--status",
        default=default,
        choices=(*ALERT_STATES, "open"),
        help="only alerts in this state now ('open' is the console's word for fired)",
    )
    p.add_argument(
        "--limit",
        type=int,
        default=argparse.SUPPRESS if suppress else 100,
        help="at most N alerts (default 100)",
    )
    add_json(p, "one alert per line", suppress=suppress)


def register(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "alerts",
        run=run,
        help="list, show, acknowledge and resolve alerts",
        description=(
            "Read the alerts the worker, replay or demo wrote to the database, and record what people "
            "did about them. Every acknowledgement and resolution is a new entry in the alert's "
            "append-only ledger. Without an action, lists alerts."
        ),
    )
    add_db(p, suppress=False)
    _add_list_options(p, suppress=False)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    p.set_defaults(action="list", alert_id=None)

    ls = actions.add_parser("list", help="list alerts, newest window first (the default)")
    add_db(ls, suppress=True)
    _add_list_options(ls, suppress=True)

    add_show_and_act(
        actions,
        "alert",
        show="one alert with its evidence and ledger",
        show_json="the alert with its ledger on one line",
        act="{verb} an alert (appends to its ledger)",
    )

    v = actions.add_parser(
        "verify",
        help="check the ledger's hash chain; name the first broken entry",
        description=(
            "Recompute the hash chain over every ledger entry and check that every alert-ledger and "
            "recommendation-history row has its entry. Prints the entry count and the chain's head hash; "
            "exit 1 and the first broken entry when something was changed, removed or reordered."
        ),
    )
    v.add_argument(
        "--expect-head",
        metavar="HASH",
        help="a head hash printed by an earlier verify: fail unless the chain still leads to it",
    )
    add_json(v, "the result on one line", suppress=True)
    add_db(v, suppress=True)


def _open_sink(db: str | None) -> AlertStore:
    """The alert store on the database ``db`` (default: the settings'), which must exist with its tables."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from clets_watch.cli import UserError
    from clets_watch.settings import Settings
    from sinks.alert_store import AlertStore
    from sinks.db import SinkError, current_revision, open_engine, sqlite_path

    url = db or Settings().database_url
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises several types for a bad URL
        raise UserError(f"bad database URL {url!r}: {exc}") from None
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise UserError(f"no database at {path}: run `clets-watch demo` or `clets-watch worker` first")
    try:
        sink = AlertStore(open_engine(url, create=False))
        revision = current_revision(sink.engine)
    except (SQLAlchemyError, SinkError) as exc:
        raise UserError(f"cannot open database {shown}: {_first_line(exc)}") from None
    if revision is None:
        sink.engine.dispose()
        raise UserError(
            f"database {shown} has no clets-watch tables: run `clets-watch demo` or `clets-watch worker` first"
        )
    return sink


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    from clets_watch.cli import UserError
    from sinks.alert_store import AlertNotFound
    from sinks.db import SinkError

    out = out or sys.stdout
    sink = _open_sink(args.db)
    try:
        if args.action == "list":
            return _list(sink, args, out)
        if args.action == "show":
            return _show(sink, args, out)
        if args.action in ("ack", "resolve"):
            note = cli_text(args.note, "--note")
            actor = _actor(args.by, getattr(args, "users", None), getattr(args, "password_file", None))
            act = sink.acknowledge if args.action == "ack" else sink.resolve
            entry = act(args.alert_id, actor, cli_note(note))
            if getattr(args, "json", False):
                print(json.dumps(entry.to_json()), file=out)
            else:
                print(
                    clean(f"{entry.action} {entry.alert_id} by {entry.actor} (ledger entry {entry.id})"),
                    file=out,
                )
            return 0
        if args.action == "verify":
            return _verify(sink, args, out)
        raise UserError(f"unknown action {args.action!r}")  # pragma: no cover - argparse limits it
    except AlertNotFound:
        raise UserError(f"no alert {args.alert_id!r} in the database") from None
    except SinkError as exc:
        raise UserError(str(exc)) from None
    finally:
        sink.engine.dispose()


def _actor(name: str, users_file: Path | None, password_file: Path | None = None) -> str:
    """The console user ``name`` (responder or above) from the console's users file, proven by their
    password (clets_watch.actor): the CLI acts under a known identity, never a free-typed name, and never
    the pipeline's own."""
    from clets_watch.actor import authenticate

    return authenticate(
        name,
        role="responder",
        what="acknowledging or resolving",
        users_file=users_file,
        password_file=password_file,
    )


def _verify(sink: Any, args: argparse.Namespace, out: IO[str]) -> int:
    from sinks.ledger import verify

    result = verify(sink.engine, expect_head=args.expect_head)
    if getattr(args, "json", False):
        print(json.dumps(result.to_json()), file=out)
    elif result.ok:
        print(f"ledger ok: {result.entries} entries, head {result.head}", file=out)
    else:
        print(clean(f"ledger BROKEN: {result.problem}"), file=out)
        print(f"checked {result.entries} entries; the chain is intact up to head {result.head}", file=out)
    return 0 if result.ok else 1


def _list(sink: Any, args: argparse.Namespace, out: IO[str]) -> int:
    from clets_watch.cli import UserError

    if args.limit < 1:
        raise UserError(f"--limit must be at least 1, got {args.limit}")
    rows = sink.list_alerts(
        rule=args.rule,
        ori=args.ori,
        severity=args.severity,
        status="fired" if args.status == "open" else args.status,
        limit=args.limit,
    )
    if not rows and args.rule is not None:
        _known_rule(args.rule)
    if args.json:
        for r in rows:
            print(json.dumps(r.to_json()), file=out)
        if len(rows) == args.limit:  # on stderr: stdout stays one alert per line
            print(
                f"limit reached: {len(rows)} alerts printed, there may be more: use --limit", file=sys.stderr
            )
        return 0
    if not rows:
        print("no alerts match", file=out)
        return 0
    table: list[tuple[str, ...]] = [
        ("ALERT ID", "WINDOW START (UTC)", "RULE", "SEVERITY", "ORI", "COMPONENT", "STATUS", "SUMMARY")
    ]
    for r in rows:
        data = r.to_json()
        table.append(
            tuple(
                clean(cell)
                for cell in (
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
        )
    _print_table(table, out)
    print(
        f"{len(rows)} alert(s){' (limit reached: use --limit)' if len(rows) == args.limit else ''}", file=out
    )
    return 0


def _known_rule(rule: str) -> None:
    """A typo in --rule is an error naming the nearest rule, not an empty list (a rule that matched
    nothing is fine when the catalogue has it; a rule of older alerts is found by the listing itself)."""
    import difflib

    from clets_watch.cli import UserError
    from processors.rules import CATALOGUE

    if rule not in CATALOGUE:
        near = difflib.get_close_matches(rule, CATALOGUE, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise UserError(f"unknown rule {clean(rule)!r}{hint}; the rules are: {', '.join(sorted(CATALOGUE))}")


def _show(sink: Any, args: argparse.Namespace, out: IO[str]) -> int:
    from sinks.alert_store import AlertNotFound

    alert = sink.get_alert(args.alert_id)
    if alert is None:
        raise AlertNotFound(args.alert_id)
    ledger = sink.alert_ledger(args.alert_id)
    if getattr(args, "json", False):
        print(json.dumps({**alert.to_json(), "ledger": [e.to_json() for e in ledger]}), file=out)
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
        f"evidence  {ev.count} event(s)",
    ]
    if ev.counts:
        lines.append("  counts: " + ", ".join(f"{k}={_num(v)}" for k, v in sorted(ev.counts.items())))
    if ev.policy_rules:
        lines.append("  policy rules: " + ", ".join(ev.policy_rules))
    if ev.event_ids:
        lines.append(f"  sample event ids ({len(ev.event_ids)}): " + ", ".join(ev.event_ids[:10]))
    if ev.offsets:
        lines.append("  sources: " + ", ".join(ev.offsets[:10]))
    lines.append(f"first seen {data['first_seen_at']}")
    lines.append("ledger:")
    for e in ledger:
        when = e.to_json()["at"]
        lines.append(f"  {when}  {e.action:<12} by {e.actor}" + (f": {e.note}" if e.note else ""))
    print("\n".join(clean(line) for line in lines), file=out)
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
