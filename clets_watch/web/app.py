"""The console's app factory: ``create_app(ConsoleConfig(...))`` gives the ASGI app that
``clets-watch serve`` runs (and tests drive)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request, status
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from clets_watch import __version__
from clets_watch.web import api, incidents, pages
from clets_watch.web.data import ConsoleData
from clets_watch.web.guard import DEFAULT_PER_CLIENT, DEFAULT_PER_USER, LoginGuard
from clets_watch.web.middleware import (
    DEFAULT_ALLOWED_HOSTS,
    DEFAULT_MAX_BODY_BYTES,
    BodyLimitMiddleware,
    SecurityHeadersMiddleware,
    TrustedHostMiddleware,
)
from clets_watch.web.models import Health
from clets_watch.web.security import (
    SESSION_COOKIE,
    SESSION_SCOPE_KEY,
    BasicAuthCache,
    CsrfFailed,
    Forbidden,
    LoginRequired,
    api_user,
    current_session,
    page_user,
    session_user,
)
from clets_watch.web.service import Console
from clets_watch.web.users import User, UserStore
from processors.agencies import AgencyRegistry
from schemas import AccessDecision
from sinks.alert_store import AlertStore
from sinks.db import open_engine
from sinks.disclosures import DisclosureStore
from sinks.recommendations import RecommendationStore
from sinks.sessions import SessionStore

HERE: Final = Path(__file__).resolve().parent
OPENAPI_URL: Final = "/api/openapi.json"


@dataclass(frozen=True)
class ConsoleConfig:
    db_url: str
    users_file: Path
    agencies_file: Path | None = None
    secure_cookies: bool = False  # set when served over https (behind a TLS proxy)
    refresh_seconds: int = 15
    session_idle_minutes: int = 30
    session_absolute_hours: int = 8  # one shift
    allowed_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    login_failures_per_user: str = DEFAULT_PER_USER
    login_failures_per_client: str = DEFAULT_PER_CLIENT
    max_concurrent_password_checks: int = 2
    users_file_owner_only: bool = False  # production: refuse a users file its group or others may write
    publish_decisions: bool = (
        False  # publish suspend/restore on clets.access-decisions (the worker enforces them)
    )


def _decision_publisher() -> Callable[[AccessDecision], None]:
    """Publish a supervisor's decision with the Kafka settings of the environment."""
    from clets_watch.kafka_security import kafka_client_kwargs
    from clets_watch.settings import Settings
    from sinks.access_decisions import publish_decision

    settings = Settings()

    def publish(decision: AccessDecision) -> None:
        publish_decision(
            settings.kafka_bootstrap, settings.topic_access_decisions, decision, kafka_client_kwargs(settings)
        )

    return publish


def create_app(config: ConsoleConfig, *, engine: Engine | None = None) -> FastAPI:
    """The console app over ``config.db_url`` (opened without creating or migrating anything)."""
    if config.max_body_bytes < 1024:
        raise ValueError("max_body_bytes must be at least 1024")
    app = FastAPI(
        title="clets-watch console API",
        version=__version__,
        description=(
            "Read and act on clets-watch alerts, agencies, access recommendations and disclosure filings. "
            "Authenticate with HTTP Basic (a console user) or the console's session cookie; changes made "
            "with the cookie need the X-CSRF-Token header from GET /api/me."
        ),
        openapi_url=None,  # published behind login, below
        docs_url=None,
        redoc_url=None,
    )
    db = engine or open_engine(config.db_url, create=False)
    app.state.engine = db
    users = UserStore(config.users_file, owner_only=config.users_file_owner_only)
    app.state.users = users
    app.state.basic_cache = BasicAuthCache()
    app.state.guard = LoginGuard(
        users,
        per_user=config.login_failures_per_user,
        per_client=config.login_failures_per_client,
        max_concurrent=config.max_concurrent_password_checks,
    )
    sessions = SessionStore(
        db,
        idle=dt.timedelta(minutes=config.session_idle_minutes),
        absolute=dt.timedelta(hours=config.session_absolute_hours),
    )
    app.state.sessions = sessions
    app.state.secure_cookies = config.secure_cookies
    app.state.console = Console(
        alerts=AlertStore(db),
        recommendations=RecommendationStore(db),
        disclosures=DisclosureStore(db),
        data=ConsoleData(db),
        registry=AgencyRegistry.load(config.agencies_file),
        publish=_decision_publisher() if config.publish_decisions else None,
    )
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(version=__version__, refresh_seconds=config.refresh_seconds)
    templates.env.filters["when"] = _when
    app.state.templates = templates

    @app.middleware("http")
    async def server_side_session(request: Request, call_next: Any) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        rec = await run_in_threadpool(sessions.get, token) if token else None
        request.scope[SESSION_SCOPE_KEY] = rec
        request.scope["session"] = rec.data if rec is not None else {}
        before = json.dumps(request.scope["session"], sort_keys=True, default=str)
        response: Response = await call_next(request)
        rec_after = current_session(request)
        if rec_after is not None:
            changed = json.dumps(rec_after.data, sort_keys=True, default=str) != before
            await run_in_threadpool(sessions.save, rec_after, data_changed=changed)
        elif token and not getattr(request.state, "session_cookie_set", False):
            response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes)
    app.add_middleware(TrustedHostMiddleware, allowed=config.allowed_hosts)

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(incidents.router)

    @app.get(
        "/healthz",
        response_model=Health,
        response_model_exclude_none=True,
        tags=["health"],
        summary="liveness and database reachability: ok or not ok (the reason only with a login)",
        responses={
            503: {
                "model": Health,
                "description": "the database cannot be reached, or the users file is missing or invalid",
            }
        },
    )
    def healthz(request: Request) -> Any:
        users.get("")  # re-reads the users file when it changed
        if users.error is not None:  # fail closed: nobody can log in until it is fixed
            return JSONResponse({"status": "not ok"}, status_code=503)
        try:
            with db.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            body: dict[str, str] = {"status": "not ok"}
            if session_user(request) is not None:
                reason = str(getattr(exc, "orig", exc)).strip().splitlines()
                body["detail"] = f"database unreachable: {reason[0] if reason else type(exc).__name__}"
            return JSONResponse(body, status_code=503)
        return Health(status="ok")

    def openapi_schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema.setdefault("components", {}).setdefault("securitySchemes", {})["basic"] = {
                "type": "http",
                "scheme": "basic",
            }
            schema["security"] = [{"basic": []}]
            schema["paths"]["/healthz"]["get"]["security"] = []
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi_schema  # type: ignore[method-assign]

    @app.get(OPENAPI_URL, include_in_schema=False, dependencies=[Depends(api_user)])
    def openapi_json() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/api/docs", include_in_schema=False, response_class=HTMLResponse)
    def api_docs(request: Request, user: Annotated[User, Depends(page_user)]) -> HTMLResponse:
        """The API reference as a plain page (no Swagger UI, no third-party script)."""
        return pages._render(
            request, "api_docs.html", operations=_operations(app.openapi()), openapi_url=OPENAPI_URL
        )

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.url.path.startswith("/fragments/"):
            return JSONResponse({"detail": "log in again"}, status_code=status.HTTP_401_UNAUTHORIZED)
        return RedirectResponse(f"/login?next={quote(target)}", status.HTTP_303_SEE_OTHER)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return pages._render(
            request, "error.html", status.HTTP_403_FORBIDDEN, title="Not allowed", message=str(exc)
        )

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return pages._render(
            request, "error.html", status.HTTP_403_FORBIDDEN, title="Form expired", message=str(exc)
        )

    return app


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            params = [p.get("name", "") for p in op.get("parameters", [])]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            out.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "params": params,
                    "body": str(body.get("$ref", "")).rsplit("/", 1)[-1],
                    "responses": sorted(op.get("responses", {})),
                }
            )
    return out


def _when(value: Any, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A datetime as UTC text for the pages (the API keeps RFC 3339)."""
    if value is None:
        return "—"
    return f"{value.strftime(fmt)} UTC" if hasattr(value, "strftime") else str(value)
