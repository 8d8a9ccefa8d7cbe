"""Who is asking, and may they: server-side sessions, HTTP Basic for API tools, roles, CSRF tokens.

Pages use a session: the cookie holds an opaque random token, the session lives in the database
(``sinks.sessions``) with an idle and an absolute timeout, and ends at logout, when the user's
password or role changes, when the user is removed, and on ``clets-watch serve --end-sessions``.
Every form carries the session's CSRF token (before login: a token in a separate cookie, checked
double-submit); API calls that change something with the session cookie must send it as
``X-CSRF-Token``. API tools may instead send HTTP Basic credentials (no cookie, so no CSRF); the
server never asks for Basic credentials (no ``WWW-Authenticate`` challenge), so a browser never
caches and replays them. Every password check goes through ``LoginGuard`` (throttling, no
user-name oracle, bounded concurrency).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections import OrderedDict
from typing import Any, Final

from fastapi import HTTPException, Request, status

from clets_watch.web.guard import Busy, LoginGuard, Throttled
from clets_watch.web.users import Role, User, UserStore
from sinks.sessions import SessionRecord, SessionStore

SESSION_COOKIE: Final = "clets_watch_session"
PRELOGIN_COOKIE: Final = "clets_watch_login_csrf"
CSRF_HEADER: Final = "X-CSRF-Token"
CSRF_FIELD: Final = "csrf_token"
SESSION_SCOPE_KEY: Final = "clets_watch.session"
_BASIC_CACHE_SIZE: Final = 256
UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LoginRequired(Exception):
    """A page asked for without a login: the app redirects to the login page."""


class Forbidden(Exception):
    """A logged-in user whose role does not allow the action (the message says what is needed)."""

    def __init__(self, user: User, needed: Role, action: str) -> None:
        super().__init__(f"the {needed} role is needed {action}; {user.name} is a {user.role}")
        self.user = user
        self.needed = needed
        self.action = action


class CsrfFailed(Exception):
    """A state-changing request without the session's CSRF token."""


def credential_stamp(user: User) -> str:
    """Changes when the user's password or role changes: a session made before no longer matches."""
    return hashlib.sha256(f"{user.name}\x00{user.role}\x00{user.password_hash}".encode()).hexdigest()


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def current_session(request: Request) -> SessionRecord | None:
    rec = request.scope.get(SESSION_SCOPE_KEY)
    return rec if isinstance(rec, SessionRecord) else None


def csrf_token(request: Request) -> str:
    """The session's CSRF token; before login, the pre-login token (set as a cookie by ``_render``)."""
    rec = current_session(request)
    if rec is not None:
        return rec.csrf_token
    token = request.cookies.get(PRELOGIN_COOKIE, "")
    if len(token) < 32 or len(token) > 128:
        token = getattr(request.state, "new_prelogin_csrf", None) or secrets.token_urlsafe(32)
        request.state.new_prelogin_csrf = token
    return token


def check_csrf(request: Request, presented: str | None) -> None:
    rec = current_session(request)
    expected = rec.csrf_token if rec is not None else request.cookies.get(PRELOGIN_COOKIE)
    if (
        not isinstance(expected, str)
        or len(expected) < 32
        or not presented
        or not hmac.compare_digest(expected.encode(), presented.encode())
    ):
        raise CsrfFailed("missing or wrong CSRF token: reload the page and try again")


class BasicAuthCache:
    """Remembers recent successful Basic logins, so API tools do not pay an Argon2 verify per call.
    Keyed on the name, a digest of the password and the stored hash: a changed hash misses."""

    def __init__(self) -> None:
        self._ok: OrderedDict[tuple[str, str, str], None] = OrderedDict()

    @staticmethod
    def _key(user: User, password: str) -> tuple[str, str, str]:
        return (
            user.name,
            hashlib.sha256(password.encode("utf-8", "surrogateescape")).hexdigest(),
            user.password_hash,
        )

    def hit(self, user: User, password: str) -> bool:
        key = self._key(user, password)
        if key in self._ok:
            self._ok.move_to_end(key)
            return True
        return False

    def add(self, user: User, password: str) -> None:
        self._ok[self._key(user, password)] = None
        if len(self._ok) > _BASIC_CACHE_SIZE:
            self._ok.popitem(last=False)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value or len(value) > 2048:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, password = decoded.partition(":")
    return (name, password) if sep else None


def end_current_session(request: Request) -> None:
    rec = current_session(request)
    if rec is not None:
        sessions: SessionStore = request.app.state.sessions
        sessions.end(rec.id_hash)
        request.scope[SESSION_SCOPE_KEY] = None
        request.scope["session"] = {}


def session_user(request: Request) -> User | None:
    """The session's user; a session whose user was removed, or whose password or role changed,
    is ended here."""
    rec = current_session(request)
    if rec is None:
        return None
    store: UserStore = request.app.state.users
    user = store.get(rec.user_name)
    if user is None or not hmac.compare_digest(credential_stamp(user), rec.credential_stamp):
        end_current_session(request)
        return None
    return user


def page_user(request: Request) -> User:
    """Dependency for pages: the logged-in user, or a redirect to the login page."""
    user = session_user(request)
    if user is None:
        raise LoginRequired()
    request.state.user = user
    return user


def _basic_user(request: Request, name: str, password: str) -> User:
    guard: LoginGuard = request.app.state.guard
    client = client_address(request)
    try:
        guard.check(name, client)
        store: UserStore = request.app.state.users
        user = store.get(name)
        cache: BasicAuthCache = request.app.state.basic_cache
        if user is not None and cache.hit(user, password):
            return user
        if guard.verify(user, password) and user is not None:
            cache.add(user, password)
            return user
        guard.failed(name, client)
    except Throttled as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, str(exc), headers={"Retry-After": str(exc.retry_after)}
        ) from None
    except Busy as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": str(exc.retry_after)}
        ) from None
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong user name or password")


def api_user(request: Request) -> User:
    """Dependency for the API: the session user (with CSRF on changes) or a Basic-auth user."""
    credentials = _basic_credentials(request)
    if credentials is not None:
        basic_user = _basic_user(request, *credentials)
        request.state.user = basic_user
        return basic_user
    user = session_user(request)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "log in at /login, or send HTTP Basic credentials")
    if request.method in UNSAFE_METHODS:
        try:
            check_csrf(request, request.headers.get(CSRF_HEADER))
        except CsrfFailed as exc:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{exc} (send it as {CSRF_HEADER})") from None
    request.state.user = user
    return user


def optional_user(request: Request) -> User | None:
    """The session user, if any (for pages that show more to a logged-in user)."""
    return session_user(request)


def require(user: User, role: Role, action: str) -> None:
    if not user.can(role):
        raise Forbidden(user, role, action)


def session_data(rec: SessionRecord | None) -> dict[str, Any]:
    return rec.data if rec is not None else {}
