"""``clets-watch serve``: the on-call console (pages and JSON API) over the alerts database.

    clets-watch serve [--db URL] [--users FILE] [--host 127.0.0.1] [--port 8470]
    clets-watch serve --add-user NAME --role viewer|responder|supervisor [--users FILE]

The password of ``--add-user`` is read from ``CLETS_WATCH_NEW_PASSWORD`` or, when that is unset,
from stdin (prompted without echo on a terminal). Nothing is served without a login but ``/healthz``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from pathlib import Path
from typing import Final

DEFAULT_PORT: Final = 8470
PASSWORD_ENV: Final = "CLETS_WATCH_NEW_PASSWORD"
SECRET_ENV: Final = "CLETS_WATCH_CONSOLE_SESSION_SECRET"

_Sub = argparse._SubParsersAction


def register(sub: _Sub[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="the on-call console: alerts, evidence, ledgers, agency access (web pages and JSON API)",
        description=(
            "Serve the on-call console on 127.0.0.1 (by default): alerts with filters and live refresh, "
            "alert detail with evidence and ledger, acknowledge/resolve with a note, agency traffic and the "
            "access recommendation (supervisors suspend or restore direct access), and a JSON API with its "
            "OpenAPI document at /api/openapi.json. Users and roles come from a TOML users file; add one "
            "with --add-user. Set CLETS_WATCH_CONSOLE_URL to the console's URL so Alertmanager alerts "
            "link to their page."
        ),
    )
    p.add_argument("--db", help="database URL (default: CLETS_WATCH_DB_URL or sqlite:///.clets-watch/clets-watch.db)")
    p.add_argument("--users", type=Path, metavar="FILE", help="users file (default: <home>/console-users.toml)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--agencies", type=Path, metavar="FILE", help="agency registry CSV (default: bundled)")
    p.add_argument("--session-secret-file", type=Path, metavar="FILE",
                   help=f"key that signs session cookies (default: {SECRET_ENV} or <home>/console-session.key, "
                        "created once, owner-only)")
    p.add_argument("--secure-cookies", action="store_true", help="mark cookies Secure (when served behind https)")
    p.add_argument("--refresh-seconds", type=int, default=15, help="live refresh of the alerts list (default 15)")
    p.add_argument("--publish-decisions", action="store_true",
                   help="publish a supervisor's suspend/restore on the compacted topic clets.access-decisions, so "
                        "the running worker enforces it (Kafka settings from CLETS_WATCH_KAFKA_*); the decision is "
                        "kept in the database either way")
    p.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"))
    p.add_argument("--add-user", metavar="NAME", help="add (or replace) a user in the users file, then exit")
    p.add_argument("--role", choices=("viewer", "responder", "supervisor"), help="role of --add-user")
    p.set_defaults(func=run)


def _read_password(name: str) -> str:
    from clets_watch.cli import UserError

    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        if sys.stdin.isatty():
            password = getpass.getpass(f"password for {name}: ")
            if getpass.getpass("again: ") != password:
                raise UserError("the two passwords differ")
        else:
            password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise UserError(f"no password for {name}: set {PASSWORD_ENV} or write it on stdin")
    return password


def session_secret(path: Path) -> tuple[str, str]:
    """The cookie-signing key and where it came from (created once, owner-only, when missing)."""
    env = os.environ.get(SECRET_ENV)
    if env:
        return env, f"session key from {SECRET_ENV}"
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), f"session key file {path}"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip(), f"created session key file {path} (owner-only)"


def run(args: argparse.Namespace) -> int:
    from clets_watch.cli import UserError
    from clets_watch.settings import get_settings
    from clets_watch.web.users import UsersFileError, add_user, load_users

    settings = get_settings()
    users_file: Path = args.users or settings.home / "console-users.toml"

    if args.add_user or args.role:
        if not (args.add_user and args.role):
            raise UserError("--add-user NAME needs --role viewer|responder|supervisor (and the other way round)")
        try:
            user, replaced = add_user(users_file, args.add_user, args.role, _read_password(args.add_user))
        except UsersFileError as exc:
            raise UserError(str(exc)) from None
        print(f"{'replaced' if replaced else 'added'} user {user.name} ({user.role}) in {users_file}")
        return 0

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be 1-65535, got {args.port}")
    if args.refresh_seconds < 1:
        raise UserError(f"--refresh-seconds must be at least 1, got {args.refresh_seconds}")
    try:
        users = load_users(users_file)
    except UsersFileError as exc:
        raise UserError(str(exc)) from None
    if not users:
        raise UserError(f"{users_file} has no users: add one with `clets-watch serve --add-user NAME --role ROLE`")

    import uvicorn

    from clets_watch.commands.alerts import _open_sink
    from clets_watch.web.app import ConsoleConfig, create_app
    from processors.agencies import RegistryError

    sink = _open_sink(args.db)  # checks the URL, the file and the schema, with one-line errors
    secret, secret_note = session_secret(args.session_secret_file or settings.home / "console-session.key")
    if len(secret) < 32:
        raise UserError("the console session key must be at least 32 characters")
    try:
        app = create_app(
            ConsoleConfig(
                db_url=sink.url,
                users_file=users_file,
                session_secret=secret,
                agencies_file=args.agencies or settings.agencies_file,
                secure_cookies=args.secure_cookies,
                refresh_seconds=args.refresh_seconds,
                publish_decisions=args.publish_decisions,
            ),
            sink=sink,
        )
    except RegistryError as exc:
        raise UserError(str(exc)) from None
    url = f"http://{args.host}:{args.port}"
    print(f"clets-watch console on {url} ({len(users)} user(s) from {users_file}; {secret_note})", file=sys.stderr)
    if settings.console_url != url:
        print(f"alert links: set CLETS_WATCH_CONSOLE_URL={url} for the worker, so Alertmanager alerts link here",
              file=sys.stderr)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    finally:
        sink.close()
    return 0
