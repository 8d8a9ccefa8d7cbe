"""Console users and roles, kept in a TOML file with Argon2id password hashes (argon2-cffi).

    [users.alice]
    role = "responder"
    password_hash = "$argon2id$v=19$..."

Roles, each including the one before: ``viewer`` reads; ``responder`` also acknowledges and resolves
alerts; ``supervisor`` also changes an agency's access recommendation. No password is ever stored
in clear; the file is written owner-only.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from clets_watch.settings import WeakKey, check_owned_file

Role = Literal["viewer", "responder", "supervisor"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # used with fullmatch only
MIN_PASSWORD_CHARS: Final = 12
MAX_PASSWORD_CHARS: Final = 1024
MIN_DISTINCT_CHARS: Final = 6
SYSTEM_ACTOR: Final = "clets-watch"  # the pipeline's own name in ledgers (sinks.db.SYSTEM_ACTOR)
RESERVED_NAMES: Final = frozenset({SYSTEM_ACTOR, "cletswatch", "clets_watch", "clets.watch", "system"})
COMMON_PASSWORD_WORDS: Final = frozenset(
    [
        "password",
        "passw",
        "passwort",
        "passphrase",
        "qwerty",
        "qwertz",
        "azerty",
        "qwertyuiop",
        "asdfgh",
        "asdfghjkl",
        "zxcvbn",
        "letmein",
        "welcome",
        "admin",
        "administrator",
        "root",
        "changeme",
        "secret",
        "iloveyou",
        "monkey",
        "dragon",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "master",
        "shadow",
        "trustno",
        "login",
        "abc",
        "abcdef",
        "abcdefg",
        "abcdefgh",
        "abcdefghij",
        "abcdefghijkl",
        "default",
        "guest",
        "test",
        "police",
        "sheriff",
        "officer",
        "dispatch",
        "clets",
    ]
)

USER_KEYS: Final = frozenset({"role", "password_hash"})
log = logging.getLogger("clets_watch.console")

_hasher = PasswordHasher()


class UsersFileError(ValueError):
    """The users file is unreadable or malformed, or a user entry is invalid (the message says which)."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    password_hash: str

    def can(self, role: Role) -> bool:
        """True when this user's role includes ``role``."""
        return ROLES.index(self.role) >= ROLES.index(role)


def check_password(password: str, name: str = "") -> str:
    """The console's password policy (after NIST SP 800-63B: length and a blocklist, no composition
    rules): 12 to 1024 characters, at least 6 different ones, not all digits, not the user name or
    the tool's name, not a common password with digits or punctuation added."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise UsersFileError(f"password too short: at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise UsersFileError(f"password too long: at most {MAX_PASSWORD_CHARS} characters")
    if len(set(password)) < MIN_DISTINCT_CHARS:
        raise UsersFileError(
            f"password too repetitive: use at least {MIN_DISTINCT_CHARS} different characters"
        )
    if password.isdigit():
        raise UsersFileError("password is all digits: use words or a passphrase")
    letters = "".join(c for c in password.casefold() if c.isalpha())
    if len(name) >= 3 and name.casefold() in password.casefold():
        raise UsersFileError("password contains the user name")
    if letters in COMMON_PASSWORD_WORDS or "cletswatch" in letters:
        raise UsersFileError("password is a common one (or the tool's name) with digits or marks added")
    return password


def hash_password(password: str, name: str = "") -> str:
    return _hasher.hash(check_password(password, name))


def verify_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise UsersFileError(
            f"user name {name!r} is not allowed: 1-64 characters, letters, digits, '.', '_' or '-'"
        )
    if name.casefold() in RESERVED_NAMES:
        raise UsersFileError(f"user name {name!r} is reserved: ledgers use it for the pipeline itself")
    return name


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise UsersFileError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    return role


def parse_users(data: Mapping[str, object], *, source: str) -> dict[str, User]:
    users = data.get("users", {})
    if not isinstance(users, Mapping):
        raise UsersFileError(f"{source}: [users] must be a table of user tables")
    unknown = sorted(set(data) - {"users"})
    if unknown:
        raise UsersFileError(f"{source}: unknown top-level key(s) {unknown}")
    out: dict[str, User] = {}
    for name, entry in users.items():
        if not isinstance(entry, Mapping):
            raise UsersFileError(f"{source}: users.{name} must be a table")
        extra = sorted(set(entry) - USER_KEYS)
        if extra:
            raise UsersFileError(
                f"{source}: users.{name}: unknown key {extra[0]!r}: a user has only {', '.join(sorted(USER_KEYS))}"
            )
        try:
            check_name(name)
            role = check_role(str(entry.get("role", "")))
        except UsersFileError as exc:
            raise UsersFileError(f"{source}: users.{name}: {exc}") from None
        pw_hash = entry.get("password_hash")
        if not isinstance(pw_hash, str) or not pw_hash.startswith("$argon2"):
            raise UsersFileError(f"{source}: users.{name}: password_hash must be an Argon2 hash")
        out[name] = User(name=name, role=role, password_hash=pw_hash)
    return out


def load_users(path: Path) -> dict[str, User]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsersFileError(
            f"no users file at {path}: add a user with `clets-watch serve --add-user NAME --role ROLE`"
        ) from None
    except OSError as exc:
        raise UsersFileError(f"cannot read users file {path}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsersFileError(f"users file {path} is not valid TOML: {exc}") from None
    return parse_users(data, source=str(path))


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_users(users: Mapping[str, User]) -> str:
    lines = [
        "# clets-watch console users: `clets-watch serve --add-user NAME --role viewer|responder|supervisor`.",
        "# Argon2id hashes only; never put a password here.",
        "",
    ]
    for name in sorted(users):
        user = users[name]
        lines += [
            f"[users.{_toml_string(name)}]",
            f"role = {_toml_string(user.role)}",
            f"password_hash = {_toml_string(user.password_hash)}",
            "",
        ]
    return "\n".join(lines)


def save_users(path: Path, users: Mapping[str, User]) -> None:
    """Write the users file atomically, owner-only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fresh random name, created exclusively and never through a symlink, so nobody else's file or link
    # in the folder can be written through or renamed over the users file.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(render_users(users))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def add_user(path: Path, name: str, role: str, password: str) -> tuple[User, bool]:
    """Add or replace a user (new hash); returns the user and whether it replaced one."""
    users = load_users(path) if path.exists() else {}
    user = User(name=check_name(name), role=check_role(role), password_hash=hash_password(password, name))
    replaced = name in users
    users[name] = user
    save_users(path, users)
    return user, replaced


def remove_user(path: Path, name: str) -> User:
    """Remove a user from the users file; returns the removed user."""
    users = load_users(path)
    user = users.pop(name, None)
    if user is None:
        raise UsersFileError(f"{path}: no user {name!r}")
    save_users(path, users)
    return user


class UserStore:
    """The users file, re-read when it changes on disk (so added or removed users take effect).

    Fail closed: when a re-read finds the file missing, unreadable or invalid (or, with
    ``owner_only``, writable by its group or others), no user is known until the file is fixed, so every
    login is refused and every session ends; ``error`` says why (``/healthz`` reports not ok) and the
    error is logged once per change."""

    def __init__(self, path: Path, *, owner_only: bool = False) -> None:
        self.path = path
        self.owner_only = owner_only
        self.error: str | None = None
        self._stamp: tuple[int, ...] | None = None
        self._users: dict[str, User] = {}
        self.reload()

    def _read(self) -> dict[str, User]:
        if self.owner_only:
            try:
                check_owned_file(self.path)
            except WeakKey as exc:
                raise UsersFileError(f"users file: {exc}") from None
        return load_users(self.path)

    def reload(self) -> None:
        try:
            stat = self.path.stat()
        except OSError:
            stat = None
        stamp = (
            (stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size, stat.st_mode) if stat else None
        )
        if stamp != self._stamp or stamp is None:
            self._users = self._read()
            self._stamp = stamp
            if self.error is not None:
                log.warning("users file %s is valid again: %d user(s)", self.path, len(self._users))
            self.error = None

    def get(self, name: str) -> User | None:
        try:
            self.reload()
        except UsersFileError as exc:
            if str(exc) != self.error:
                log.error("%s: refusing every login and ending every session until it is fixed", exc)
            self._users = {}
            self._stamp = None
            self.error = str(exc)
        return self._users.get(name)

    def __len__(self) -> int:
        return len(self._users)
