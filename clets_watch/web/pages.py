"""The console's server-rendered pages: login, alerts, alert detail, agencies, agency detail.
Every form posts the session's CSRF token; actions redirect back with a one-line message."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError

from clets_watch.web import models as m
from clets_watch.web.chart import legend, traffic_svg
from clets_watch.web.data import SEVERITIES, STATE_FILTERS, AlertFilters, Traffic, TrafficBucket
from clets_watch.web.guard import Busy, LoginGuard, Throttled
from clets_watch.web.security import (
    CSRF_FIELD,
    PRELOGIN_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    client_address,
    credential_stamp,
    csrf_token,
    end_current_session,
    page_user,
    require,
)
from clets_watch.web.service import Console, NotFound
from clets_watch.web.users import User
from sinks.alert_store import AlertStateError
from sinks.sessions import SessionStore

router = APIRouter(include_in_schema=False)
PageUser = Annotated[User, Depends(page_user)]
PAGE_SIZE = 100


def _render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    templates = request.app.state.templates
    user = getattr(request.state, "user", None)
    flash = request.session.pop("flash", None)
    response: HTMLResponse = templates.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "csrf_token": csrf_token(request),
            "csrf_field": CSRF_FIELD,
            "flash": flash,
            **context,
        },
        status_code=status_code,
    )
    new_prelogin = getattr(request.state, "new_prelogin_csrf", None)
    if new_prelogin:  # before login: the form's token is checked against this cookie (double submit)
        response.set_cookie(
            PRELOGIN_COOKIE,
            new_prelogin,
            max_age=3600,
            path="/login",
            httponly=True,
            samesite="strict",
            secure=request.app.state.secure_cookies,
        )
    return response


def _not_found(request: Request, title: str, message: str) -> HTMLResponse:
    """The error page with 404: ``title`` says what is missing, ``message`` which one."""
    return _render(request, "error.html", status.HTTP_404_NOT_FOUND, title=title, message=message)


def _action_note(
    request: Request,
    note: Annotated[str, Form(max_length=m.NOTE_MAX_CHARS)] = "",
    csrf_token_field: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> str:
    """The note of an acknowledge/resolve form, once the form's CSRF token checks out."""
    check_csrf(request, csrf_token_field)
    return note


ActionNote = Annotated[str, Depends(_action_note)]


def _flash(request: Request, kind: str, text: str) -> None:
    request.session["flash"] = {"kind": kind, "text": text}


def _safe_next(target: str | None) -> str:
    """Only a local path: never redirect a login to another site."""
    if not target:
        return "/alerts"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/alerts"
    if "\\" in target or not target.isprintable():  # browsers read /\evil.example as //evil.example
        return "/alerts"
    return target


def _console(request: Request) -> Console:
    c: Console = request.app.state.console
    return c


# ------------------------------------------------------------------------------------- login


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token_field: Annotated[str, Form(alias=CSRF_FIELD)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/alerts",
) -> Response:
    check_csrf(request, csrf_token_field)
    guard: LoginGuard = request.app.state.guard
    try:
        user = guard.authenticate(username, password, client_address(request))
    except (Throttled, Busy) as exc:
        code = (
            status.HTTP_429_TOO_MANY_REQUESTS
            if isinstance(exc, Throttled)
            else status.HTTP_503_SERVICE_UNAVAILABLE
        )
        response: Response = _render(
            request, "login.html", code, next=_safe_next(next), error=f"{str(exc).capitalize()}."
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if user is None:
        return _render(
            request,
            "login.html",
            status.HTTP_401_UNAUTHORIZED,
            next=_safe_next(next),
            error="Wrong user name or password.",
        )
    end_current_session(request)  # a fresh session (and CSRF token) for the logged-in user
    sessions: SessionStore = request.app.state.sessions
    token, _ = sessions.create(user.name, credential_stamp(user))
    sessions.purge_expired()  # expired sessions of others go too: the table holds live sessions only
    response = RedirectResponse(_safe_next(next), status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(sessions.absolute.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.app.state.secure_cookies,
    )
    response.delete_cookie(PRELOGIN_COOKIE, path="/login", httponly=True, samesite="strict")
    request.state.session_cookie_set = True
    return response


@router.post("/logout")
def logout(request: Request, csrf_token_field: Annotated[str, Form(alias=CSRF_FIELD)] = "") -> Response:
    check_csrf(request, csrf_token_field)
    end_current_session(request)
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    request.state.session_cookie_set = True
    return response


@router.get("/")
def home(user: PageUser) -> Response:
    return RedirectResponse("/incidents", status.HTTP_303_SEE_OTHER)


# ------------------------------------------------------------------------------------- alerts


def _filters(request: Request) -> AlertFilters:
    q = request.query_params

    def pick(name: str, allowed: tuple[str, ...] | None = None) -> str | None:
        value = (q.get(name) or "").strip()[:64]
        if not value or (allowed is not None and value not in allowed):
            return None
        return value

    try:
        page = max(1, min(10_000, int(q.get("page", "1"))))
    except ValueError:
        page = 1
    return AlertFilters(
        severity=pick("severity", SEVERITIES),
        rule=pick("rule"),
        ori=pick("ori"),
        component=pick("component"),
        state=pick("state", tuple(STATE_FILTERS)),
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, user: PageUser) -> HTMLResponse:
    svc = _console(request)
    filters = _filters(request)
    listing = svc.alert_list(filters)
    return _render(
        request,
        "alerts.html",
        listing=listing,
        filters=filters,
        facets=svc.data.facets(),
        severities=SEVERITIES,
        states=tuple(STATE_FILTERS),
        query=urlencode(filters.as_query()),
        page=filters.offset // PAGE_SIZE + 1,
        page_size=PAGE_SIZE,
    )


@router.get("/fragments/alerts", response_class=HTMLResponse)
def alerts_rows(request: Request, user: PageUser) -> HTMLResponse:
    """The alerts table body alone, for the list's live refresh."""
    svc = _console(request)
    filters = _filters(request)
    return _render(request, "_alert_rows.html", listing=svc.alert_list(filters))


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, alert_id: str, user: PageUser) -> HTMLResponse:
    svc = _console(request)
    try:
        detail = svc.alert_detail(alert_id)
    except NotFound as exc:
        return _not_found(request, "Alert not found", str(exc))
    return _render(request, "alert.html", d=detail, a=detail.alert)


@router.post("/alerts/{alert_id}/{action}")
def alert_action(
    request: Request,
    alert_id: str,
    action: str,
    user: PageUser,
    note: ActionNote,
) -> Response:
    if action not in ("acknowledge", "resolve"):
        return _not_found(request, "Not found", f"no action {action!r} on alerts")
    require(user, "responder", f"to {action} an alert")
    back = RedirectResponse(f"/alerts/{alert_id}", status.HTTP_303_SEE_OTHER)
    try:
        body = m.AlertNote(note=note)
    except ValidationError:
        _flash(request, "error", f"Write a note to {action} the alert: what you did or found.")
        return back
    try:
        entry = _console(request).act_on_alert(alert_id, action, user.name, body.note)
    except NotFound as exc:
        return _not_found(request, "Alert not found", str(exc))
    except AlertStateError as exc:
        _flash(request, "error", str(exc))
        return back
    _flash(request, "ok", f"Alert {entry.action} by {entry.actor} (ledger entry {entry.id}).")
    return back


# ------------------------------------------------------------------------------------- agencies


@router.get("/agencies", response_class=HTMLResponse)
def agencies_page(request: Request, user: PageUser) -> HTMLResponse:
    return _render(request, "agencies.html", agencies=_console(request).agencies())


def _chart(detail: m.AgencyDetail) -> tuple[Markup, list[Any]]:
    t = detail.traffic
    traffic = Traffic(
        bucket_seconds=t.bucket_seconds,
        buckets=[
            TrafficBucket(p.start, dict(p.by_data_source), p.total, p.immigration_enforcement)
            for p in t.points
        ],
        data_sources=t.data_sources,
        total=t.total,
        immigration=t.immigration_enforcement,
        first=t.first,
        last=t.last,
    )
    title = f"Queries by data source, {detail.agency.ori}"
    return Markup(traffic_svg(traffic, title=title)), legend(traffic)


@router.get("/agencies/{ori}", response_class=HTMLResponse)
def agency_page(request: Request, ori: str, user: PageUser) -> HTMLResponse:
    try:
        detail = _console(request).agency_detail(ori)
    except NotFound as exc:
        return _not_found(request, "Agency not found", str(exc))
    chart, chart_legend = _chart(detail)
    return _render(request, "agency.html", d=detail, chart=chart, legend=chart_legend)


@router.post("/agencies/{ori}/access")
def agency_access(
    request: Request,
    ori: str,
    user: PageUser,
    action: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=m.NOTE_MAX_CHARS)] = "",
    csrf_token_field: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    check_csrf(request, csrf_token_field)
    require(user, "supervisor", "changing an agency's access recommendation")
    back = RedirectResponse(f"/agencies/{ori}", status.HTTP_303_SEE_OTHER)
    try:
        body = m.AccessChange(action=action, reason=reason)
    except ValidationError:
        _flash(request, "error", "Choose suspend or restore, and write the reason.")
        return back
    try:
        rec = _console(request).change_access(ori, body.action, user.name, body.reason)
    except NotFound as exc:
        return _not_found(request, "Agency not found", str(exc))
    _flash(request, "ok", f"Recorded: {rec.action} — by {rec.actor}.")
    return back
