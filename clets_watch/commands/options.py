"""How a command declares itself: ``add_command`` makes its parser (the line in ``clets-watch --help``, the
description, the function ``cli.main`` runs), and the options every command spells the same way: ``--db URL``,
``--bootstrap HOST:PORT``, ``--log-level LEVEL``, ``--json`` (JSON lines: one JSON object per line, no
indentation) and ``--progress``.

Not a command module (it has no ``register``). A command whose sub-commands repeat an option (``alerts
--db`` and ``alerts list --db``) adds the copy on the sub-parser with ``suppress=True``: its default is
``argparse.SUPPRESS``, so the sub-parser does not overwrite what the parent parser already parsed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeAlias

from clets_watch.errors import UserError

DB_DEFAULT = "CLETS_WATCH_DB_URL or sqlite:///.clets-watch/clets-watch.db"
BOOTSTRAP_HELP = "Kafka bootstrap (default: CLETS_WATCH_KAFKA_BOOTSTRAP or 127.0.0.1:9092)"
LOG_LEVELS: tuple[str, ...] = ("critical", "error", "warning", "info", "debug")
JSON_HELP = "JSON lines (one JSON object per line)"
# the widest line a --help text writes itself (a description wrapped by hand, an example line)
HELP_WIDTH = 100

# What a command module's ``register`` is given: the ``clets-watch`` parser's sub-parsers (or a command's own,
# for its actions).
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
# What ``cli.main`` calls with the parsed arguments: returns the exit code; raises ``UserError`` for a
# one-line error (exit 2).
Run: TypeAlias = Callable[[argparse.Namespace], int]


def add_command(
    sub: Subcommands,
    name: str,
    *,
    help: str,
    run: Run | None,
    description: str | None = None,
    **parser_options: Any,
) -> argparse.ArgumentParser:
    """The parser of command (or action) ``name``: ``help`` is its line in the parent's ``--help``,
    ``description`` heads its own ``--help``, and ``run`` is what ``cli.main`` runs for it (None when each of
    its actions names its own). ``parser_options`` go to argparse (``epilog``, ``formatter_class``,
    ``parents``)."""
    p = sub.add_parser(name, help=help, description=description, **parser_options)
    if run is not None:
        p.set_defaults(func=run)
    return p


def db_help(default: str = DB_DEFAULT) -> str:
    return f"database URL (default: {default})"


def add_db(p: argparse._ActionsContainer, *, suppress: bool = False, default: str = DB_DEFAULT) -> None:
    """``--db URL``; ``default`` names where the URL comes from when the flag is absent (only a command
    with another default, such as ``bench``, passes it)."""
    p.add_argument(
        "--db", metavar="URL", default=argparse.SUPPRESS if suppress else None, help=db_help(default)
    )


def add_bootstrap(p: argparse._ActionsContainer, *, suppress: bool = False) -> None:
    p.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        default=argparse.SUPPRESS if suppress else None,
        help=BOOTSTRAP_HELP,
    )


def add_log_level(p: argparse._ActionsContainer, *, default: str = "warning") -> None:
    if default not in LOG_LEVELS:
        raise ValueError(f"log level default {default!r} is not one of {', '.join(LOG_LEVELS)}")
    p.add_argument(
        "--log-level",
        metavar="LEVEL",
        default=default,
        choices=LOG_LEVELS,
        help=f"{'|'.join(LOG_LEVELS)} (default: {default})",
    )


def add_json(p: argparse._ActionsContainer, what: str, *, suppress: bool = False) -> None:
    """``--json``: ``what`` says what each line is (``one alert per line``, ``one summary line``)."""
    p.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help=f"{JSON_HELP}: {what}",
    )


PROGRESS_HELP = "progress bar on stderr (default: when stderr is a terminal, not with --json)"


def add_progress(p: argparse._ActionsContainer) -> None:
    """``--progress/--no-progress`` of a long command; ``progress.progress_enabled`` reads it."""
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help=PROGRESS_HELP)


def add_actor(p: argparse._ActionsContainer) -> None:
    """``--by``, ``--note``, ``--users`` and ``--password-file`` of an ack or resolve: who (a console user,
    responder or above, from the users file, proven by their password) and why; the ledger entry records
    both."""
    p.add_argument(
        "--by",
        required=True,
        metavar="NAME",
        help="who is taking the action: a console user with the responder role or above",
    )
    p.add_argument("--note", required=True, metavar="TEXT", help="what was done or found (not empty)")
    add_credentials(p)


def add_credentials(p: argparse._ActionsContainer) -> None:
    """``--users`` and ``--password-file``: where ``--by`` is checked, and the proof (clets_watch.actor)."""
    p.add_argument(
        "--users",
        type=Path,
        metavar="FILE",
        help="the console's users file; only that file is accepted "
        "(default: CLETS_WATCH_CONSOLE_USERS_FILE or <home>/console-users.toml)",
    )
    p.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help="owner-only file whose first line is the password of --by (else CLETS_WATCH_ACTOR_PASSWORD, "
        "else a prompt on a terminal)",
    )


def add_show_and_act(actions: Subcommands, what: str, *, show: str, show_json: str, act: str) -> None:
    """``show ID``, ``ack ID`` and ``resolve ID`` of what on-call acts on (``alert``, ``incident``): the id is
    ``<what>_id`` (metavar ``<WHAT>_ID``); ``show`` is the show action's help, ``show_json`` what its --json line
    holds; ``act`` the help of ack and resolve, with ``{verb}`` for acknowledge or resolve."""
    p = actions.add_parser("show", help=show)
    p.add_argument(f"{what}_id", metavar=f"{what.upper()}_ID")
    add_json(p, show_json, suppress=True)
    add_db(p, suppress=True)
    for name, verb in (("ack", "acknowledge"), ("resolve", "resolve")):
        p = actions.add_parser(name, help=act.format(verb=verb))
        p.add_argument(f"{what}_id", metavar=f"{what.upper()}_ID")
        add_actor(p)
        add_json(p, "the ledger entry on one line", suppress=True)
        add_db(p, suppress=True)


def parse_time_with_offset(
    text: str, flag: str, *, kind: str = "an RFC 3339 time", example: str | None = None
) -> dt.datetime:
    """The value of ``flag`` as a time with a UTC offset (``--at``, ``--start``); a one-line UserError when it is
    not ``kind`` or has no offset (with ``example`` of one, when given)."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"{flag} {text!r} is not {kind}") from None
    if when.tzinfo is None:
        raise UserError(f"{flag} {text!r} needs a UTC offset{f', e.g. {example}' if example else ''}")
    return when


def print_json_line(obj: Any, out: IO[str], **dumps: Any) -> None:
    """One JSON object on one line: what ``--json`` prints."""
    out.write(json.dumps(obj, **dumps) + "\n")
