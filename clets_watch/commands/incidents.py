"""``clets-watch incidents``: list, show, acknowledge and resolve incidents in the database.

clets-watch incidents [list] [--state S] [--ori O] [--severity S] [--limit N] [--json]
clets-watch incidents show INCIDENT_ID [--json]
clets-watch incidents ack INCIDENT_ID --by NAME --note TEXT [--users FILE] [--password-file FILE] [--json]
clets-watch incidents resolve INCIDENT_ID --by NAME --note TEXT [--users FILE] [--password-file FILE] [--json]

An incident is one case for on-call: an agency's alerts (or one operator's) that kept coming within a
gap (processors/incidents.py). Acting on it records a ledger entry on the incident and on each of its
alerts. ``--json`` prints JSON lines (one object per incident; ``show`` one object).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, Any, get_args

from clets_watch.actor import cli_note, cli_text
from clets_watch.commands.options import Subcommands, add_command, add_db, add_json, add_show_and_act
from clets_watch.terminal import clean
from schemas.outputs import Severity

STATES = ("open", "acknowledged", "resolved")


def _add_list_options(p: argparse.ArgumentParser, *, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else None
    p.add_argument("--state", default=default, choices=STATES, help="only incidents in this on-call state")
    p.add_argument("--ori", default=default, help="only incidents of this agency (ORI)")
    p.add_argument("--severity", default=default, choices=get_args(Severity), help="only this severity")
    p.add_argument(
        "--limit",
        type=int,
        default=argparse.SUPPRESS if suppress else 50,
        help="at most N incidents (default 50)",
    )


def register(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "incidents",
        run=run,
        help="list, show, acknowledge and resolve incidents (one case per burst of alerts)",
        description=(
            "Incidents group an agency's alerts (or one operator's) that keep coming within a gap, so a raid "
            "of hundreds of prohibited queries is one case. Acknowledging or resolving an incident records a "
            "ledger entry on it and on each of its alerts. Without an action, lists incidents: open ones "
            "first, most severe first."
        ),
    )
    add_db(p, suppress=False)
    _add_list_options(p, suppress=False)
    add_json(p, "one incident per line", suppress=False)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    p.set_defaults(action="list", incident_id=None)

    ls = actions.add_parser("list", help="list incidents (the default)")
    add_db(ls, suppress=True)
    _add_list_options(ls, suppress=True)
    add_json(ls, "one incident per line", suppress=True)

    add_show_and_act(
        actions,
        "incident",
        show="one incident with its story, alerts, evidence and ledger",
        show_json="the incident on one line",
        act="{verb} an incident and all its alerts (appends to their ledgers)",
    )


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    from clets_watch.cli import UserError
    from clets_watch.commands.alerts import _actor, _open_sink
    from sinks.db import SinkError
    from sinks.incidents import IncidentNotFound, IncidentStore

    out = out or sys.stdout
    sink = _open_sink(args.db)
    store = IncidentStore(sink)
    as_json = bool(getattr(args, "json", False))
    try:
        if args.action == "list":
            if args.limit < 1:
                raise UserError(f"--limit must be at least 1, got {args.limit}")
            rows = store.list_incidents(
                state=args.state, ori=args.ori, severity=args.severity, limit=args.limit
            )
            if as_json:
                for r in rows:
                    print(json.dumps(r.to_json(), sort_keys=True), file=out)
                return 0
            if not rows:
                print("no incidents match", file=out)
                return 0
            # ON-CALL: what people did (open, acknowledged, resolved); PIPELINE: whether the incident can
            # still grow (open) or its quiet gap has passed (closed)
            width = max(len(r.incident_id) for r in rows)
            print(
                f"{'INCIDENT ID':<{width}}  {'SEVERITY':<8} {'ON-CALL':<12} {'PIPELINE':<8} ALERTS  STORY",
                file=out,
            )
            for r in rows:
                print(
                    clean(
                        f"{r.incident_id:<{width}}  {r.severity:<8} {r.state:<12} {r.status:<8} {r.alerts:>6}  "
                        f"{r.story}"
                    ),
                    file=out,
                )
            print(
                f"{len(rows)} incident(s){' (limit reached: use --limit)' if len(rows) == args.limit else ''}",
                file=out,
            )
            return 0
        if args.action == "show":
            row = store.get(args.incident_id)
            if row is None:
                raise IncidentNotFound(args.incident_id)
            alerts = store.alerts(args.incident_id)
            ledger = store.ledger(args.incident_id)
            if as_json:
                body = {
                    **row.to_json(),
                    "alert_ids": [a.alert_id for a in alerts],
                    "ledger": [e.to_json() for e in ledger],
                }
                print(json.dumps(body, sort_keys=True), file=out)
                return 0
            rec = row.record
            lines = [
                row.story,
                f"  incident   {row.incident_id} ({rec['family']}, {rec['key']})",
                f"  severity   {row.severity}; pipeline {row.status}; on-call {row.state}",
                f"  span       {rec['first_window_start']} .. {rec['last_window_end']} (UTC)",
                "  rules      " + ", ".join(f"{k} {v}" for k, v in rec["counts_by_rule"].items()),
                f"  action     {rec.get('recommended_action') or rec.get('recommendation')}",
                "  evidence   " + (", ".join(rec.get("evidence") or []) or "-"),
                f"  alerts     {len(alerts)}:",
            ]
            lines += [
                f"    {a.alert_id}  {a.rule:<22} {a.status:<12} {a.to_json()['window_start']}"
                for a in alerts[:20]
            ]
            if len(alerts) > 20:
                lines.append(f"    … {len(alerts) - 20} more (use --json)")
            lines += [
                f"  ledger     {e.to_json()['at']} {e.action} by {e.actor}: {e.note} ({e.alerts} alert(s))"
                for e in ledger
            ]
            # every line through clean(): a key, an event id or a note cannot move the cursor or reorder text
            print("\n".join(clean(line) for line in lines), file=out)
            return 0
        if args.action in ("ack", "resolve"):
            note = cli_text(args.note, "--note")
            actor = _actor(args.by, args.users, args.password_file)
            entry = store.act(args.incident_id, args.action, actor, cli_note(note))
            if as_json:
                print(json.dumps(entry.to_json(), sort_keys=True), file=out)
            else:
                print(
                    clean(
                        f"{entry.action} incident {entry.incident_id} and {entry.alerts} alert(s) by {entry.actor} "
                        f"(ledger entry {entry.id})"
                    ),
                    file=out,
                )
            return 0
        raise UserError(f"unknown action {args.action!r}")  # pragma: no cover - argparse limits it
    except IncidentNotFound:
        raise UserError(f"no incident {args.incident_id!r} in the database") from None
    except SinkError as exc:
        raise UserError(str(exc)) from None
    finally:
        sink.engine.dispose()
