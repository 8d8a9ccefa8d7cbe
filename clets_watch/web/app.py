"""The console's app factory: ``create_app(ConsoleConfig(...))`` gives the ASGI app that
``clets-watch serve`` runs (and tests drive)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request, status
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.middleware.sessions import SessionMiddleware

from clets_watch import __version__
from clets_watch.web import api, incidents, pages
from clets_watch.web.data import ConsoleData
from clets_watch.web.models import Health, Problem
from clets_watch.web.security import BasicAuthCache, CsrfFailed, Forbidden, LoginRequired, api_user, page_user
from clets_watch.web.service import Console
from clets_watch.web.users import UserStore
from processors.agencies import AgencyRegistry
from schemas import AccessDecision
from sinks.db import DatabaseSink

HERE: Final = Path(__file__).resolve().parent
SESSION_COOKIE: Final = "clets_watch_session"
SESSION_MAX_AGE: Final = 8 * 3600  # one shift
OPENAPI_URL: Final = "/api/openapi.json"


@dataclass(frozen=True)
class ConsoleConfig:
    db_url: str
    users_file: Path
    session_secret: str
    agencies_file: Path | None = None
    secure_cookies: bool = False  # set when served over https (behind a TLS proxy)
    refresh_seconds: int = 15
    publish_decisions: bool = False  # publish suspend/restore on clets.access-decisions (the worker enforces them)


def _decision_publisher() -> Callable[[AccessDecision], None]:
    """Publish a supervisor's decision with the Kafka settings of the environment."""
    from clets_watch.kafka_security import kafka_client_kwargs
    from clets_watch.settings import Settings
    from sinks.access_decisions import publish_decision

    settings = Settings()

    def publish(decision: AccessDecision) -> None:
        publish_decision(settings.kafka_bootstrap, settings.topic_access_decisions, decision,
                         kafka_client_kwargs(settings))

    return publish


def _security_headers(response: Response) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
        "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; frame-ancestors 'none'",
    )


def create_app(config: ConsoleConfig, *, sink: DatabaseSink | None = None) -> FastAPI:
    """The console app over ``config.db_url`` (opened without creating or migrating anything)."""
    if len(config.session_secret) < 32:
        raise ValueError("the session secret must be at least 32 characters")
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
    db = sink or DatabaseSink(config.db_url, create=False)
    app.state.sink = db
    app.state.users = UserStore(config.users_file)
    app.state.basic_cache = BasicAuthCache()
    app.state.console = Console(sink=db, data=ConsoleData(db), registry=AgencyRegistry.load(config.agencies_file),
                                publish=_decision_publisher() if config.publish_decisions else None)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(version=__version__, refresh_seconds=config.refresh_seconds)
    templates.env.filters["when"] = _when
    app.state.templates = templates

    app.add_middleware(
        SessionMiddleware,
        secret_key=config.session_secret,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="strict",
        https_only=config.secure_cookies,
    )

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        _security_headers(response)
        if request.url.path.startswith(("/api/", "/alerts", "/agencies", "/fragments", "/incidents")):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(incidents.router)

    @app.get("/healthz", response_model=Health, tags=["health"], summary="liveness and database reachability",
             responses={503: {"model": Problem, "description": "the database cannot be reached"}})
    def healthz() -> Any:
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()
            return JSONResponse({"detail": f"database unreachable: {reason[0] if reason else type(exc).__name__}"},
                                status_code=503)
        return Health(status="ok", database="ok")

    def openapi_schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("securitySchemes", {})["basic"] = {
                "type": "http", "scheme": "basic"
            }
            schema["security"] = [{"basic": []}]
            schema["paths"]["/healthz"]["get"]["security"] = []
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi_schema  # type: ignore[method-assign]

    @app.get(OPENAPI_URL, include_in_schema=False, dependencies=[Depends(api_user)])
    def openapi_json() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/api/docs", include_in_schema=False, dependencies=[Depends(page_user)])
    def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI_URL, title="clets-watch console API")

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.url.path.startswith("/fragments/"):
            return JSONResponse({"detail": "log in again"}, status_code=status.HTTP_401_UNAUTHORIZED)
        return RedirectResponse(f"/login?next={quote(target)}", status.HTTP_303_SEE_OTHER)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return pages._render(request, "error.html", status.HTTP_403_FORBIDDEN, title="Not allowed", message=str(exc))

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return pages._render(request, "error.html", status.HTTP_403_FORBIDDEN, title="Form expired", message=str(exc))

    return app


def _when(value: Any, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A datetime as UTC text for the pages (the API keeps RFC 3339)."""
    if value is None:
        return "—"
    return f"{value.strftime(fmt)} UTC" if hasattr(value, "strftime") else str(value)
