"""The console's JSON API (``/api/...``): the same views and actions as the pages, for other tools.
Authenticate with the session cookie (plus ``X-CSRF-Token`` on changes) or HTTP Basic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status

from clets_watch.web import models as m
from clets_watch.web.data import AlertFilters
from clets_watch.web.middleware import StrictJSONRoute
from clets_watch.web.security import Forbidden, api_user, csrf_token, require
from clets_watch.web.service import Console, NotFound
from clets_watch.web.users import User
from sinks.alert_store import AlertStateError

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": m.Problem, "description": "unknown query parameter, or a body that is not valid JSON"},
    401: {"model": m.Problem, "description": "not logged in"},
    403: {"model": m.Problem, "description": "the role does not allow it, or the CSRF token is missing"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": m.Problem, "description": "no such alert or agency"}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": m.Problem, "description": "not possible in its current state"}
}


def known_query_params(request: Request) -> None:
    """Refuse query parameters the operation does not declare: a misspelt filter
    (``severty=critical``) must not silently return everything."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    allowed = {p.alias for p in _query_params(dependant)} if dependant is not None else set()
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"unknown query parameter(s) {', '.join(repr(u[:40]) for u in unknown[:5])}; "
            f"this operation takes {', '.join(sorted(allowed)) or 'none'}",
        )


def _query_params(dependant: Any) -> list[Any]:
    params = list(dependant.query_params)
    for sub in dependant.dependencies:
        params += _query_params(sub)
    return params


router = APIRouter(
    prefix="/api",
    tags=["console"],
    responses=ERRORS,
    dependencies=[Depends(known_query_params)],
    route_class=StrictJSONRoute,  # NaN or Infinity in a body: 422, never a 500
)

AlertId = Annotated[str, Path(pattern=m.ALERT_ID_PATTERN, description="the alert's deterministic id")]
Ori = Annotated[str, Path(pattern=m.ORI_PATTERN, description="originating agency identifier")]
CurrentUser = Annotated[User, Depends(api_user)]
FilterText = Query(max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


def console(request: Request) -> Console:
    c: Console = request.app.state.console
    return c


Svc = Annotated[Console, Depends(console)]


@contextmanager
def _http_errors() -> Iterator[None]:
    """The service's refusals as HTTP errors: not allowed 403, no such alert or agency 404, not possible
    in its current state 409."""
    try:
        yield
    except Forbidden as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except AlertStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


@router.get("/me", response_model=m.Me, summary="who is logged in, and the CSRF token for changes")
def me(request: Request, user: CurrentUser) -> m.Me:
    return m.Me(
        name=user.name,
        role=user.role,
        csrf_token=csrf_token(request),
        can_act_on_alerts=user.can("responder"),
        can_change_access=user.can("supervisor"),
    )


@router.get("/alerts", response_model=m.AlertList, summary="alerts, newest window first, filtered")
def list_alerts(
    user: CurrentUser,
    svc: Svc,
    severity: m.Severity | None = None,
    rule: Annotated[str | None, FilterText] = None,
    ori: Annotated[str | None, Query(max_length=16, pattern=m.ORI_PATTERN)] = None,
    component: Annotated[str | None, FilterText] = None,
    state: m.AlertState | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> m.AlertList:
    return svc.alert_list(
        AlertFilters(
            severity=severity,
            rule=rule,
            ori=ori,
            component=component,
            state=state,
            limit=limit,
            offset=offset,
        )
    )


@router.get(
    "/alerts/{alert_id}",
    response_model=m.AlertDetail,
    responses=NOT_FOUND,
    summary="one alert: rule, window, evidence events, policy clauses, ledger",
)
def get_alert(alert_id: AlertId, user: CurrentUser, svc: Svc) -> m.AlertDetail:
    with _http_errors():
        return svc.alert_detail(alert_id)


def _act(svc: Console, alert_id: str, action: str, user: User, note: str) -> m.LedgerEntry:
    with _http_errors():
        require(user, "responder", f"to {action} an alert")
        return svc.act_on_alert(alert_id, action, user.name, note)


def _action_route(action: str) -> None:
    """POST /alerts/{alert_id}/<action> (acknowledge, resolve): the responder's note goes to the ledger."""

    @router.post(
        f"/alerts/{{alert_id}}/{action}",
        response_model=m.LedgerEntry,
        status_code=201,
        responses={**NOT_FOUND, **CONFLICT},
        summary=f"{action} an alert with a note (responder)",
        name=action,
    )
    def act(alert_id: AlertId, body: m.AlertNote, user: CurrentUser, svc: Svc) -> m.LedgerEntry:
        return _act(svc, alert_id, action, user, body.note)


for _action in ("acknowledge", "resolve"):
    _action_route(_action)


@router.get(
    "/agencies",
    response_model=list[m.AgencySummary],
    summary="agencies with traffic, alerts or a recommendation; suspended first",
)
def list_agencies(user: CurrentUser, svc: Svc) -> list[m.AgencySummary]:
    return svc.agencies()


@router.get(
    "/agencies/{ori}",
    response_model=m.AgencyDetail,
    responses=NOT_FOUND,
    summary="one agency: traffic by data source, immigration share, alerts, recommendation, filings",
)
def get_agency(ori: Ori, user: CurrentUser, svc: Svc) -> m.AgencyDetail:
    with _http_errors():
        return svc.agency_detail(ori)


@router.post(
    "/agencies/{ori}/access",
    response_model=m.RecommendationOut,
    status_code=201,
    responses=NOT_FOUND,
    summary="suspend direct access (written requests only) or restore it (supervisor)",
)
def change_access(ori: Ori, body: m.AccessChange, user: CurrentUser, svc: Svc) -> m.RecommendationOut:
    with _http_errors():
        require(user, "supervisor", "changing an agency's access recommendation")
        return svc.change_access(ori, body.action, user.name, body.reason)
