"""The options every command spells the same way: ``--db URL``, ``--bootstrap HOST:PORT``,
``--log-level LEVEL`` and ``--json`` (JSON lines: one JSON object per line, no indentation).

Not a command module (it has no ``register``). A command whose sub-commands repeat an option (``alerts
--db`` and ``alerts list --db``) adds the copy on the sub-parser with ``suppress=True``: its default is
``argparse.SUPPRESS``, so the sub-parser does not overwrite what the parent parser already parsed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import IO, Any

DB_DEFAULT = "CLETS_WATCH_DB_URL or sqlite:///.clets-watch/clets-watch.db"
BOOTSTRAP_HELP = "Kafka bootstrap (default: CLETS_WATCH_KAFKA_BOOTSTRAP or 127.0.0.1:9092)"
LOG_LEVELS: tuple[str, ...] = ("critical", "error", "warning", "info", "debug")
JSON_HELP = "JSON lines (one JSON object per line)"


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


def print_json_line(obj: Any, out: IO[str], **dumps: Any) -> None:
    """One JSON object on one line: what ``--json`` prints."""
    out.write(json.dumps(obj, **dumps) + "\n")
