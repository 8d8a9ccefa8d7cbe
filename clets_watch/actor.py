"""Who is acting on the command line: a console user, proven by their password, never a free-typed name.

``clets-watch alerts|incidents ack|resolve`` and ``clets-watch access suspend|restore`` record what a
person did in the tamper-evident ledger, so the name they record must be as real as a console login:

- the user comes from the console's own users file (``CLETS_WATCH_CONSOLE_USERS_FILE``, default
  ``<home>/console-users.toml``, the file ``clets-watch serve`` reads); ``--users`` may only name that same
  file; in production the file must not be writable by its group or others, like the console requires;
- the names the pipeline uses for itself (``clets-watch``, ``system``, …) are refused;
- the user's role must include the one the action needs (responder for alerts and incidents, supervisor
  for access), and their ``password_hash`` must be a real Argon2 hash;
- the user's password is checked against that hash. Like ``psql`` it comes from, in order: an owner-only
  ``--password-file`` (the first line; refused when the group or others may read it), the environment
  variable ``CLETS_WATCH_ACTOR_PASSWORD`` (for automation; a variable is visible to the same OS user's
  other processes), or a prompt (``getpass``) when standard input is a terminal. Otherwise the action is
  refused.

A note or reason passes the console API's own check (``cli_text``, ``web.models.VisibleText``: visible, no
control character but tab and line breaks, at most 2000 characters). What the CLI records is marked as such: ``cli_note`` appends ``[via CLI: os user U on host H]`` to the note
or reason, so the ledger tells a console action from a command-line one.
"""

from __future__ import annotations

import getpass
import os
import socket
import stat
import sys
from pathlib import Path
from typing import Final

from pydantic import TypeAdapter, ValidationError

from clets_watch.errors import UserError
from clets_watch.settings import Settings, WeakKey, check_owned_file, get_settings, users_file_path
from clets_watch.terminal import clean
from clets_watch.web.models import NOTE_MAX_CHARS, VisibleText
from clets_watch.web.users import RESERVED_NAMES, Role, UsersFileError, load_users, verify_password

PASSWORD_ENV: Final = "CLETS_WATCH_ACTOR_PASSWORD"
_VISIBLE_TEXT: Final = TypeAdapter(VisibleText)


def authenticate(
    name: str,
    *,
    role: Role,
    what: str,
    users_file: Path | None = None,
    password_file: Path | None = None,
    settings: Settings | None = None,
) -> str:
    """The console user ``name``, once the checks above pass; ``what`` names the action for messages
    (``acknowledging or resolving``). Raises ``UserError`` saying what is wrong."""
    settings = settings or get_settings()
    if name.strip().casefold() in RESERVED_NAMES:
        raise UserError(f"--by {clean(name)!r} is reserved for the pipeline itself: act under your own name")
    path = users_file_path(settings)
    if users_file is not None and _same(users_file) != _same(path):
        raise UserError(
            f"--users {clean(users_file)} is not the console's users file ({path}, from "
            "CLETS_WATCH_CONSOLE_USERS_FILE or <home>/console-users.toml): the command line acts only as "
            "a user of the console"
        )
    if settings.is_production:
        try:
            check_owned_file(path)
        except WeakKey as exc:
            raise UserError(f"users file: {exc}") from None
    try:
        users = load_users(path)
    except UsersFileError as exc:
        raise UserError(f"--by needs a console user: {exc}") from None
    user = users.get(name)
    if user is None:
        raise UserError(
            f"--by {clean(name)!r} is not a user in {path}: add one with "
            f"`clets-watch serve --add-user NAME --role {role}`"
        )
    if not user.can(role):
        raise UserError(f"--by {name}: {what} needs the {role} role; {name} is a {user.role}")
    if not _is_argon2(user.password_hash):
        raise UserError(
            f"--by {name}: the password hash in {path} is not a valid Argon2 hash: "
            f"set a password with `clets-watch serve --add-user {name} --role {user.role}`"
        )
    if not verify_password(user, read_password(name, password_file)):
        raise UserError(f"--by {name}: wrong password")
    return user.name


def _same(path: Path) -> Path:
    return path.expanduser().resolve()


def _is_argon2(password_hash: str) -> bool:
    from argon2 import extract_parameters
    from argon2.exceptions import InvalidHashError

    try:
        extract_parameters(password_hash)
    except (InvalidHashError, ValueError):
        return False
    return True


def read_password(name: str, password_file: Path | None) -> str:
    """The actor's password: ``password_file`` (owner-only), else ``CLETS_WATCH_ACTOR_PASSWORD``, else a
    prompt on a terminal."""
    if password_file is not None:
        try:
            mode = password_file.stat().st_mode
            if stat.S_IMODE(mode) & 0o077:
                raise UserError(
                    f"--password-file {password_file} may be read by its group or others "
                    f"(mode {stat.S_IMODE(mode):04o}): `chmod 600 {password_file}`"
                )
            text = password_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot read --password-file {password_file}: {exc.strerror}") from None
        lines = text.splitlines()
        return lines[0] if lines else ""
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env is not None:
        return from_env
    if sys.stdin is not None and sys.stdin.isatty():
        return getpass.getpass(f"password of console user {name}: ")
    raise UserError(
        f"--by {name}: the password of {name} is needed: --password-file FILE (owner-only), "
        f"{PASSWORD_ENV}, or run on a terminal to type it"
    )


def cli_text(value: str, flag: str) -> str:
    """``value`` of ``flag`` (``--note``, ``--reason``) checked as the console API checks a note or reason
    (the one validator, ``web.models.VisibleText``), stripped; ``UserError`` (exit 2) naming the flag."""
    if not value.strip():
        raise UserError(
            f"{flag} is empty: the action needs a {flag.removeprefix('--')} (what was done or found, or why)"
        )
    try:
        return _VISIBLE_TEXT.validate_python(value)
    except ValidationError as exc:
        kind, message = exc.errors()[0]["type"], exc.errors()[0]["msg"]
    if kind == "string_too_long":
        problem = f"is too long: at most {NOTE_MAX_CHARS} characters"
    elif kind == "string_pattern_mismatch":
        problem = "holds a control character (only tab and line breaks are allowed)"
    else:
        problem = f"is refused: {message}"
    raise UserError(f"{flag} {problem}")


def cli_note(note: str) -> str:
    """``note`` marked as recorded from the command line, by which OS user on which host."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = str(os.getuid())
    return f"{note} [via CLI: os user {who} on host {socket.gethostname()}]"
