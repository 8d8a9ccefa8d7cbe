"""Who is asking, and may they: session logins, HTTP Basic for API tools, roles, CSRF tokens.

Pages use a signed session cookie (Starlette's ``SessionMiddleware``, itsdangerous). Every form
carries the session's CSRF token; API calls that change something with the session cookie must send
it as ``X-CSRF-Token``. API tools may instead send HTTP Basic credentials (no cookie, so no CSRF);
the server never asks for Basic credentials (no ``WWW-Authenticate`` challenge), so a browser never
caches and replays them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections import OrderedDict
from typing import Final

from fastapi import HTTPException, Request, status

from clets_watch.web.users import Role, User, UserStore, verify_password

SESSION_USER: Final = "user"
SESSION_CSRF: Final = "csrf"
CSRF_HEADER: Final = "X-CSRF-Token"
CSRF_FIELD: Final = "csrf_token"
_BASIC_CACHE_SIZE: Final = 256
UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LoginRequired(Exception):
    """A page asked for without a login: the app redirects to the login page."""


class Forbidden(Exception):
    """A logged-in user whose role does not allow the action (the message says what is needed)."""

    def __init__(self, user: User, needed: Role, action: str) -> None:
        super().__init__(f"{action} needs the {needed} role; {user.name} is a {user.role}")
        self.user = user
        self.needed = needed
        self.action = action


class CsrfFailed(Exception):
    """A state-changing request without the session's CSRF token."""


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return token


def check_csrf(request: Request, presented: str | None) -> None:
    expected = request.session.get(SESSION_CSRF)
    if not isinstance(expected, str) or not presented or not hmac.compare_digest(expected, presented):
        raise CsrfFailed("missing or wrong CSRF token: reload the page and try again")


class BasicAuthCache:
    """Remembers recent successful Basic logins, so API tools do not pay an Argon2 verify per call.
    Keyed on the name, a digest of the password and the stored hash: a changed hash misses."""

    def __init__(self) -> None:
        self._ok: OrderedDict[tuple[str, str, str], None] = OrderedDict()

    def verify(self, user: User, password: str) -> bool:
        key = (user.name, hashlib.sha256(password.encode()).hexdigest(), user.password_hash)
        if key in self._ok:
            self._ok.move_to_end(key)
            return True
        if not verify_password(user, password):
            return False
        self._ok[key] = None
        if len(self._ok) > _BASIC_CACHE_SIZE:
            self._ok.popitem(last=False)
        return True


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, password = decoded.partition(":")
    return (name, password) if sep else None


def session_user(request: Request) -> User | None:
    name = request.session.get(SESSION_USER)
    if not isinstance(name, str):
        return None
    store: UserStore = request.app.state.users
    user = store.get(name)
    if user is None:  # removed from the users file: the session ends
        request.session.pop(SESSION_USER, None)
    return user


def page_user(request: Request) -> User:
    """Dependency for pages: the logged-in user, or a redirect to the login page."""
    user = session_user(request)
    if user is None:
        raise LoginRequired()
    request.state.user = user
    return user


def api_user(request: Request) -> User:
    """Dependency for the API: the session user (with CSRF on changes) or a Basic-auth user."""
    credentials = _basic_credentials(request)
    if credentials is not None:
        store: UserStore = request.app.state.users
        user = store.get(credentials[0])
        cache: BasicAuthCache = request.app.state.basic_cache
        if user is None or not cache.verify(user, credentials[1]):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong user name or password")
        request.state.user = user
        return user
    user = session_user(request)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "log in at /login, or send HTTP Basic credentials"
        )
    if request.method in UNSAFE_METHODS:
        try:
            check_csrf(request, request.headers.get(CSRF_HEADER))
        except CsrfFailed as exc:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{exc} (send it as {CSRF_HEADER})") from None
    request.state.user = user
    return user


def require(user: User, role: Role, action: str) -> None:
    if not user.can(role):
        raise Forbidden(user, role, action)
