"""``clets-watch access``: a supervisor suspends or restores an agency's direct CLETS access.

clets-watch access suspend ORI --by NAME --reason TEXT [--at TIME] [--no-publish] [--json]
clets-watch access restore ORI --by NAME --reason TEXT [--at TIME] [--no-publish] [--json]
clets-watch access list [--json]

The decision is kept in the database and published on the compacted Kafka topic
``clets.access-decisions`` (key = ORI). The worker applies it from its effective time (default: now):
a direct query by a suspended agency raises a critical ``query_while_suspended`` alert; a restore ends
that and resets the agency's access recommendation. ``clets-watch replay`` applies the decisions in the
database that were in force at each event's time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import IO, Any

from clets_watch.commands.options import add_bootstrap, add_db, add_json

_Sub = argparse._SubParsersAction


def register(sub: _Sub[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "access",
        help="suspend or restore an agency's direct access (the pipeline enforces it)",
        description=(
            "Record a supervisor's decision on an agency's direct CLETS access in the database and publish it "
            "on the compacted topic clets.access-decisions. The worker and replay apply it by event time: a "
            "query by a suspended agency raises a critical query_while_suspended alert; a restore ends that "
            "and resets the agency's recommendation."
        ),
    )
    add_db(p)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, verb in (
        ("suspend", "suspend direct access; written requests only"),
        ("restore", "restore direct access"),
    ):
        a = actions.add_parser(name, help=verb)
        a.add_argument("ori", metavar="ORI")
        a.add_argument("--by", required=True, metavar="NAME", help="the supervisor deciding")
        a.add_argument("--reason", required=True, metavar="TEXT", help="why")
        a.add_argument("--at", metavar="TIME", help="effective time, RFC 3339 with offset (default: now)")
        a.add_argument("--no-publish", action="store_true", help="only the database, not the Kafka topic")
        add_bootstrap(a)
        a.add_argument("--topic", help="decisions topic (default: settings, clets.access-decisions)")
        add_json(a, "the decision on one line")
        add_db(a, suppress=True)
    ls = actions.add_parser("list", help="every decision, oldest first")
    add_json(ls, "one decision per line")
    add_db(ls, suppress=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    import msgspec

    from clets_watch.cli import UserError
    from clets_watch.kafka_security import KafkaSecurityError, kafka_client_kwargs
    from clets_watch.settings import Settings
    from processors.access_decisions import decision_id, effective_text
    from schemas import AccessDecision
    from sinks.access_decisions import DecisionError, load_decisions, publish_decision, record_decision
    from sinks.db import SinkError, open_engine

    out = out or sys.stdout
    settings = Settings()
    try:
        engine = open_engine(args.db or settings.database_url)
    except SinkError as exc:
        raise UserError(str(exc)) from None
    try:
        if args.action == "list":
            for d in load_decisions(engine):
                print(
                    msgspec.json.encode(d).decode()
                    if args.json
                    else f"{d.effective_at}  {d.action:<8} {d.ori}  by {d.by}: {d.reason}",
                    file=out,
                )
            return 0
        if not args.by.strip() or not args.reason.strip():
            raise UserError("a decision needs the name of the supervisor (--by) and a reason (--reason)")
        if args.at:
            try:
                when = dt.datetime.fromisoformat(args.at)
            except ValueError:
                raise UserError(f"--at {args.at!r} is not an RFC 3339 time") from None
            if when.tzinfo is None:
                raise UserError(f"--at {args.at!r} needs a UTC offset")
        else:
            when = dt.datetime.now(dt.UTC)
        at = effective_text(when)
        decision = AccessDecision(
            decision_id=decision_id(args.ori, args.action, at, args.by),
            ori=args.ori,
            action=args.action,
            effective_at=at,
            by=args.by,
            reason=args.reason,
        )
        record_decision(engine, decision)
        if not args.no_publish:
            try:
                security: Any = kafka_client_kwargs(settings)
                publish_decision(
                    args.bootstrap or settings.kafka_bootstrap,
                    args.topic or settings.topic_access_decisions,
                    decision,
                    security,
                )
            except (DecisionError, KafkaSecurityError) as exc:
                raise UserError(f"{exc} (the decision is in the database; re-run to publish)") from None
        if args.json:
            print(json.dumps(msgspec.to_builtins(decision), sort_keys=True), file=out)
        else:
            print(
                f"{decision.action} {decision.ori} from {decision.effective_at} by {decision.by} "
                f"(decision {decision.decision_id}{'' if args.no_publish else ', published'})",
                file=out,
            )
        return 0
    finally:
        engine.dispose()
