"""``clets-watch serve``: the on-call console (pages and JSON API) over the alerts database.

    clets-watch serve [--db URL] [--users FILE] [--host 127.0.0.1] [--port 8470] [--allowed-host NAME ...]
    clets-watch serve --add-user NAME --role viewer|responder|supervisor [--users FILE]
    clets-watch serve --remove-user NAME | --end-sessions NAME [--users FILE] [--db URL]

The password of ``--add-user`` is read from ``CLETS_WATCH_NEW_PASSWORD`` or, when that is unset,
from stdin (prompted without echo on a terminal). Nothing is served without a login but ``/healthz``
(which then says only ok or not ok).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Final

from clets_watch.commands.options import Subcommands, add_command, add_db, add_log_level

DEFAULT_PORT: Final = 8470
PASSWORD_ENV: Final = "CLETS_WATCH_NEW_PASSWORD"
ALLOWED_HOSTS_ENV: Final = "CLETS_WATCH_CONSOLE_ALLOWED_HOSTS"


def register(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "serve",
        run=run,
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
    add_db(p)
    p.add_argument(
        "--users",
        type=Path,
        metavar="FILE",
        help="users file (default: CLETS_WATCH_CONSOLE_USERS_FILE or <home>/console-users.toml)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--agencies", type=Path, metavar="FILE", help="agency registry CSV (default: bundled)")
    p.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="a Host name the console answers to (repeat for more; default: "
        f"{ALLOWED_HOSTS_ENV}, comma-separated, or 127.0.0.1, localhost and ::1); '*' allows any",
    )
    p.add_argument(
        "--session-idle-minutes",
        type=int,
        default=30,
        help="a session ends after this long without a request (default 30)",
    )
    p.add_argument(
        "--session-hours", type=int, default=8, help="a session ends this long after login (default 8)"
    )
    p.add_argument(
        "--login-failures-per-user",
        default="5/minute",
        metavar="RATE",
        help="failed logins allowed per user name before 429 (default 5/minute)",
    )
    p.add_argument(
        "--login-failures-per-client",
        default="10/minute",
        metavar="RATE",
        help="failed logins allowed per client address before 429 (default 10/minute)",
    )
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=64 * 1024,
        help="largest request body accepted, checked before login (default 65536)",
    )
    p.add_argument(
        "--trusted-proxy",
        action="append",
        metavar="IP",
        help="a reverse proxy whose X-Forwarded-For/-Proto headers are believed (repeat for more); "
        "by default none is: any client could claim another address and dodge the "
        "per-address login throttle",
    )
    p.add_argument(
        "--secure-cookies", action="store_true", help="mark cookies Secure (when served behind https)"
    )
    p.add_argument(
        "--refresh-seconds", type=int, default=15, help="live refresh of the alerts list (default 15)"
    )
    p.add_argument(
        "--publish-decisions",
        action="store_true",
        help="publish a supervisor's suspend/restore on the compacted topic clets.access-decisions, so "
        "the running worker enforces it (Kafka settings from CLETS_WATCH_KAFKA_*); the decision is "
        "kept in the database either way",
    )
    add_log_level(p)
    p.add_argument("--add-user", metavar="NAME", help="add (or replace) a user in the users file, then exit")
    p.add_argument("--role", choices=("viewer", "responder", "supervisor"), help="role of --add-user")
    p.add_argument("--remove-user", metavar="NAME", help="remove a user and end their sessions, then exit")
    p.add_argument(
        "--end-sessions",
        metavar="NAME",
        help="end every console session of a user (they must log in again), then exit",
    )


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


def _end_sessions(db: str | None, name: str) -> int | None:
    """End ``name``'s console sessions; None when there is no database yet (so no sessions)."""
    import datetime as dt

    from clets_watch.cli import UserError
    from clets_watch.commands.alerts import _open_sink
    from sinks.sessions import SessionStore

    try:
        sink = _open_sink(db)
    except UserError:
        if db is None:
            return None
        raise
    try:
        hour = dt.timedelta(hours=1)
        return SessionStore(sink.engine, idle=hour, absolute=hour).end_user(name)
    finally:
        sink.engine.dispose()


def allowed_hosts(args: argparse.Namespace) -> tuple[str, ...]:
    from clets_watch.web.middleware import DEFAULT_ALLOWED_HOSTS

    if args.allowed_host:
        return tuple(args.allowed_host)
    env = os.environ.get(ALLOWED_HOSTS_ENV, "")
    names = tuple(h.strip() for h in env.split(",") if h.strip())
    return names or DEFAULT_ALLOWED_HOSTS


def run(args: argparse.Namespace) -> int:
    from clets_watch.cli import UserError
    from clets_watch.settings import WeakKey, check_owned_file, get_settings, users_file_path
    from clets_watch.web.users import UsersFileError, add_user, load_users, remove_user

    settings = get_settings()
    users_file: Path = args.users or users_file_path(settings)

    if args.add_user or args.role:
        if not (args.add_user and args.role):
            raise UserError(
                "--add-user NAME needs --role viewer|responder|supervisor (and the other way round)"
            )
        try:
            user, replaced = add_user(users_file, args.add_user, args.role, _read_password(args.add_user))
        except UsersFileError as exc:
            raise UserError(str(exc)) from None
        print(f"{'replaced' if replaced else 'added'} user {user.name} ({user.role}) in {users_file}")
        if replaced:
            ended = _end_sessions(args.db, user.name)
            if ended:
                print(f"ended {ended} console session(s) of {user.name}")
        return 0
    if args.remove_user:
        try:
            user = remove_user(users_file, args.remove_user)
        except UsersFileError as exc:
            raise UserError(str(exc)) from None
        ended = _end_sessions(args.db, user.name)
        print(f"removed user {user.name} from {users_file}; ended {ended or 0} console session(s)")
        return 0
    if args.end_sessions:
        ended = _end_sessions(args.db, args.end_sessions)
        if ended is None:
            raise UserError("no database: there are no sessions to end")
        print(f"ended {ended} console session(s) of {args.end_sessions}")
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
        raise UserError(
            f"{users_file} has no users: add one with `clets-watch serve --add-user NAME --role ROLE`"
        )

    import uvicorn

    from clets_watch.commands.alerts import _open_sink
    from clets_watch.web.app import ConsoleConfig, create_app
    from processors.agencies import RegistryError
    from sinks.db import current_revision, head_revision

    if args.session_idle_minutes < 1 or args.session_hours < 1:
        raise UserError("--session-idle-minutes and --session-hours must be at least 1")
    if args.max_body_bytes < 1024:
        raise UserError(f"--max-body-bytes must be at least 1024, got {args.max_body_bytes}")
    if settings.is_production:
        try:
            check_owned_file(users_file)
        except WeakKey as exc:
            raise UserError(f"users file: {exc}") from None
    hosts = allowed_hosts(args)
    for flag, rate in (
        ("--login-failures-per-user", args.login_failures_per_user),
        ("--login-failures-per-client", args.login_failures_per_client),
    ):
        try:
            from limits import parse

            parse(rate)
        except ValueError:
            raise UserError(f"{flag} {rate!r}: write a rate such as 5/minute or 20/hour") from None
    sink = _open_sink(args.db)  # checks the URL, the file and the schema, with one-line errors
    if current_revision(sink.engine) != head_revision():
        sink.engine.dispose()
        raise UserError(
            "the database schema is older than this clets-watch: run `clets-watch worker` or "
            "`clets-watch demo` once to migrate it"
        )
    try:
        app = create_app(
            ConsoleConfig(
                db_url=sink.engine.url.render_as_string(hide_password=False),
                users_file=users_file,
                agencies_file=args.agencies or settings.agencies_file,
                secure_cookies=args.secure_cookies,
                refresh_seconds=args.refresh_seconds,
                session_idle_minutes=args.session_idle_minutes,
                session_absolute_hours=args.session_hours,
                allowed_hosts=hosts,
                max_body_bytes=args.max_body_bytes,
                login_failures_per_user=args.login_failures_per_user,
                login_failures_per_client=args.login_failures_per_client,
                publish_decisions=args.publish_decisions,
                users_file_owner_only=settings.is_production,
            ),
            engine=sink.engine,
        )
    except RegistryError as exc:
        raise UserError(str(exc)) from None
    url = f"http://{args.host}:{args.port}"
    print(
        f"clets-watch console on {url} ({len(users)} user(s) from {users_file}; answers to Host "
        f"{', '.join(hosts)})",
        file=sys.stderr,
    )
    if args.host not in hosts and "*" not in hosts:
        print(
            f"note: {args.host} is not an allowed Host name: browsers must use one of {', '.join(hosts)}, "
            "or add names with --allowed-host",
            file=sys.stderr,
        )
    if settings.console_url != url:
        print(
            f"alert links: set CLETS_WATCH_CONSOLE_URL={url} for the worker, so Alertmanager alerts link here",
            file=sys.stderr,
        )
    try:
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            access_log=False,
            proxy_headers=bool(args.trusted_proxy),
            forwarded_allow_ips=args.trusted_proxy or [],
            server_header=False,
        )
    finally:
        sink.engine.dispose()
    return 0
