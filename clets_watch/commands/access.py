"""``clets-watch access``: a supervisor suspends or restores an agency's direct CLETS access.

clets-watch access suspend ORI --by NAME --reason TEXT [--password-file FILE] [--at TIME] [--no-publish] [--json]
clets-watch access restore ORI --by NAME --reason TEXT [--password-file FILE] [--at TIME] [--no-publish] [--json]
clets-watch access list [--json]
clets-watch access publish DECISION_ID      (publish a recorded decision on the topic again)

``--by`` is a console user with the supervisor role, proven by their password (clets_watch.actor); the
change goes through the console's own path (``Console.change_access``): the agency's recommendation is
set and ledgered, and the decision is recorded and journalled in the same hash chain, its reason marked
as coming from the CLI. The ORI must be one the event decoder accepts and an agency of the registry or the
database; ``--at`` may differ from the clock by clock skew only (5 minutes): no backdating.

The decision is kept in the database and published on the compacted Kafka topic
``clets.access-decisions`` (key = ORI). Unless ``--no-publish``, the broker is reached (and the topic
created) before anything is recorded, so a broker that is down refuses the decision and leaves no trace;
if publishing fails after that, the decision stays recorded and ``access publish DECISION_ID`` sends it
again (a decision is published by its id: the worker applies it once). The worker applies it from its effective time (default: now):
a direct query by a suspended agency raises a critical ``query_while_suspended`` alert; a restore ends
that and resets the agency's access recommendation. ``clets-watch replay`` applies the decisions in the
database that were in force at each event's time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from collections.abc import Callable
from typing import IO, Any, Final

from clets_watch.actor import authenticate, cli_note, cli_text
from clets_watch.commands.options import (
    Subcommands,
    add_bootstrap,
    add_command,
    add_credentials,
    add_db,
    add_json,
    parse_time_with_offset,
)
from clets_watch.terminal import clean
from schemas import AccessDecision
from schemas.events import ORI_PATTERN


def register(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "access",
        run=run,
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
        a.add_argument(
            "--by",
            required=True,
            metavar="NAME",
            help="the supervisor deciding: a console user with that role",
        )
        a.add_argument("--reason", required=True, metavar="TEXT", help="why")
        a.add_argument(
            "--at",
            metavar="TIME",
            help="effective time, RFC 3339 with offset, not later than the clock and at most 5 minutes before it "
            "(for clock skew; default: now)",
        )
        add_credentials(a)
        a.add_argument("--no-publish", action="store_true", help="only the database, not the Kafka topic")
        add_bootstrap(a)
        a.add_argument("--topic", help="decisions topic (default: settings, clets.access-decisions)")
        add_json(a, "the decision on one line")
        add_db(a, suppress=True)
    ls = actions.add_parser("list", help="every decision, oldest first")
    add_json(ls, "one decision per line")
    add_db(ls, suppress=True)
    pub = actions.add_parser(
        "publish", help="publish a recorded decision on the topic again (after a failed publish)"
    )
    pub.add_argument("decision_id", metavar="DECISION_ID", help="as `access list --json` shows it")
    add_bootstrap(pub)
    pub.add_argument("--topic", help="decisions topic (default: settings, clets.access-decisions)")
    add_db(pub, suppress=True)


#: how far --at may be before the clock: a decision takes effect now (give or take the skew of a
#: supervisor's clock behind the server's); neither backdated further (that would rewrite what replays of the
#: past enforce) nor later than the clock at all (a decision recorded first but dated later would override
#: one recorded after it)
MAX_CLOCK_SKEW: Final = dt.timedelta(minutes=5)
#: how long a decision waits for the broker before it is refused (nothing recorded)
PREFLIGHT_TIMEOUT_MS: Final = 5_000


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    import msgspec

    from clets_watch.cli import UserError
    from clets_watch.kafka_security import KafkaSecurityError, kafka_client_kwargs
    from clets_watch.settings import Settings
    from clets_watch.web.service import NotFound
    from sinks.access_decisions import DecisionError, ensure_topic, load_decisions, publish_decision
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
                    else clean(f"{d.effective_at}  {d.action:<8} {d.ori}  by {d.by}: {d.reason}"),
                    file=out,
                )
            return 0
        bootstrap = args.bootstrap or settings.kafka_bootstrap
        topic = args.topic or settings.topic_access_decisions
        security: Any = {}
        if args.action == "publish" or not args.no_publish:
            try:
                security = kafka_client_kwargs(settings)
            except KafkaSecurityError as exc:
                raise UserError(str(exc)) from None
        if args.action == "publish":
            found = [d for d in load_decisions(engine) if d.decision_id == args.decision_id]
            if not found:
                raise UserError(
                    f"no decision {clean(args.decision_id)!r} in the database (see `access list`)"
                )
            try:
                publish_decision(bootstrap, topic, found[0], security)
            except DecisionError as exc:
                raise UserError(str(exc)) from None
            print(
                clean(f"published decision {found[0].decision_id} ({found[0].action} {found[0].ori})"),
                file=out,
            )
            return 0
        if not args.by.strip() or not args.reason.strip():
            raise UserError("a decision needs the name of the supervisor (--by) and a reason (--reason)")
        reason = cli_text(args.reason, "--reason")
        if not re.fullmatch(ORI_PATTERN, args.ori):
            raise UserError(
                f"{clean(args.ori)!r} is not an ORI: two capital letters and seven capital letters or digits"
            )
        when = _effective_at(args.at)
        actor = authenticate(
            args.by,
            role="supervisor",
            what="suspending or restoring access",
            users_file=args.users,
            password_file=args.password_file,
            settings=settings,
        )
        if not args.no_publish:
            try:  # before anything is recorded: a broker that is down refuses the decision, no trace left
                ensure_topic(bootstrap, topic, security, bootstrap_timeout_ms=PREFLIGHT_TIMEOUT_MS)
            except DecisionError as exc:
                raise UserError(
                    f"{exc}; nothing was recorded (record it in the database only with --no-publish)"
                ) from None
        published: list[AccessDecision] = []
        console = _console(engine, settings, published.append)
        try:
            console.change_access(args.ori, args.action, actor, cli_note(reason), at=when)
        except NotFound as exc:
            raise UserError(str(exc)) from None
        (decision,) = published
        if not args.no_publish:
            try:
                publish_decision(
                    bootstrap, topic, decision, security, topic_ensured=True
                )  # by the pre-flight
            except DecisionError as exc:
                raise UserError(
                    f"{exc} (decision {decision.decision_id} is recorded in the database; publish it when "
                    f"the broker is back: clets-watch access publish {decision.decision_id})"
                ) from None
        if args.json:
            print(json.dumps(msgspec.to_builtins(decision), sort_keys=True), file=out)
        else:
            print(
                clean(
                    f"{decision.action} {decision.ori} from {decision.effective_at} by {decision.by} "
                    f"(decision {decision.decision_id}{'' if args.no_publish else ', published'})"
                ),
                file=out,
            )
        return 0
    finally:
        engine.dispose()


def _effective_at(at: str | None, now: dt.datetime | None = None) -> dt.datetime:
    """``--at`` (default: now), refused when later than the clock (a decision recorded first but dated later
    would override one recorded after it) or earlier by more than ``MAX_CLOCK_SKEW`` (clock skew)."""
    from clets_watch.cli import UserError

    now = now or dt.datetime.now(dt.UTC)
    if not at:
        return now
    when = parse_time_with_offset(at, "--at")
    clock = now.isoformat(timespec="seconds")
    if when > now:
        raise UserError(
            f"--at {at} is after the clock ({clock}): a decision takes effect when it is made; "
            "it cannot be scheduled"
        )
    if now - when > MAX_CLOCK_SKEW:
        raise UserError(
            f"--at {at} is before the clock ({clock}) by more than "
            f"{int(MAX_CLOCK_SKEW.total_seconds() // 60)} minutes: a decision takes effect when it is made; "
            "it cannot be backdated"
        )
    return when


def _console(engine: Any, settings: Any, publish: Callable[[AccessDecision], None]) -> Any:
    """The console's own service over ``engine``: the CLI changes access through the same path as a
    supervisor on the console (the ledgered recommendation, then the journalled decision)."""
    from clets_watch.web.data import ConsoleData
    from clets_watch.web.service import Console
    from processors.agencies import AgencyRegistry
    from sinks.alert_store import AlertStore
    from sinks.disclosures import DisclosureStore
    from sinks.recommendations import RecommendationStore

    return Console(
        alerts=AlertStore(engine),
        recommendations=RecommendationStore(engine),
        disclosures=DisclosureStore(engine),
        data=ConsoleData(engine),
        registry=AgencyRegistry.load(settings.agencies_file),
        publish=publish,
    )
