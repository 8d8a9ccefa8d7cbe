"""ASGI middleware that runs before any route or login check: trusted Host names, request body
limits, and the security headers (a Content-Security-Policy without ``'unsafe-inline'``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Final

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_ALLOWED_HOSTS: Final = ("127.0.0.1", "localhost", "::1")
DEFAULT_MAX_BODY_BYTES: Final = 64 * 1024
BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS: Final = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)
NO_STORE_PREFIXES: Final = ("/api/", "/alerts", "/agencies", "/incidents", "/fragments", "/login", "/healthz")


async def _send_plain(
    send: Send, status: int, detail: str, extra: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})


def host_name(header: str) -> str:
    """The name part of a Host header, lower-case: ``[::1]:8470`` → ``::1``, ``Example.org.:80`` → ``example.org``."""
    header = header.strip().lower()
    if header.startswith("["):
        name = header[1:].split("]", 1)[0]
    else:
        name = header.rsplit(":", 1)[0] if header.count(":") == 1 else header
    return name.rstrip(".")


class TrustedHostMiddleware:
    """Refuse (400) a request whose Host header is not one of ``allowed`` (``*`` allows any):
    a DNS-rebinding page in a browser sends its own host name, never the console's."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(host_name(h) for h in allowed)
        self.any = "*" in self.allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.any:
            await self.app(scope, receive, send)
            return
        raw = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        if host_name(raw) not in self.allowed:
            await _send_plain(
                send, 400, "unknown Host header: this console answers to " + ", ".join(sorted(self.allowed))
            )
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse (413) a request body over ``max_bytes`` before any route, form parser or login check
    reads it: by its Content-Length at once, and by counting when it is sent chunked."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"request body over {self.max_bytes} bytes"
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _send_plain(send, 400, "Content-Length is not a number")
                return
            if declared > self.max_bytes:
                await _send_plain(send, 413, too_large, [(b"connection", b"close")])
                return
        seen = 0
        started = False
        refused = False

        async def counted_receive() -> Message:
            nonlocal seen, started, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # answer now and tell the app the client went away; whatever it sends is dropped
                    refused = True
                    if not started:
                        started = True
                        await _send_plain(send, 413, too_large, [(b"connection", b"close")])
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, tracked_send)


class SecurityHeadersMiddleware:
    """Add the security headers to every response, and ``Cache-Control: no-store`` to the pages and
    API answers that show alerts or who is logged in."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = str(scope.get("path", "")).startswith(NO_STORE_PREFIXES)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if no_store and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class _NotFinite(ValueError):
    """NaN, Infinity or -Infinity in a JSON body (Python's json accepts them; JSON does not)."""


def _refuse_constant(name: str) -> Any:
    raise _NotFinite(name)


class StrictJSONRequest(Request):
    """A request whose JSON body refuses NaN and Infinity as a JSON decode error (answered 422 like any
    other malformed body) instead of letting them reach validation, whose error echo cannot hold them."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body, parse_constant=_refuse_constant)
            except _NotFinite as exc:
                text = body.decode("utf-8", "replace")
                raise json.JSONDecodeError(
                    f"{exc} is not a JSON number", text, max(text.find(str(exc)), 0)
                ) from None
        return self._json


class StrictJSONRoute(APIRoute):
    """The API's route class: handlers see a ``StrictJSONRequest``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict
