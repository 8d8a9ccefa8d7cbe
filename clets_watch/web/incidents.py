"""The console's incident pages: the front page (incidents, open and most severe first) and one incident
(story, timeline chart, its alerts — sortable, searchable, paged in the browser by static/incidents.js —,
evidence, ledger, and one acknowledge/resolve for all its alerts). No inline script or style: the pages use
static/incidents.js and static/incidents.css only."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from pydantic import ValidationError

from clets_watch.web import models as m
from clets_watch.web.pages import ActionNote, _flash, _not_found, _render
from clets_watch.web.security import page_user, require
from clets_watch.web.service import Console
from clets_watch.web.users import User
from sinks.alert_store import AlertRow, AlertStateError
from sinks.incidents import IncidentNotFound, IncidentStore

router = APIRouter(include_in_schema=False)
PageUser = Annotated[User, Depends(page_user)]
PAGE_SIZES = (25, 50, 100)
ACTIONS = {"acknowledge": "ack", "resolve": "resolve"}


def _store(request: Request) -> tuple[Console, IncidentStore]:
    console: Console = request.app.state.console
    return console, IncidentStore(console.alerts)


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(value or default)))
    except ValueError:
        return default


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(request: Request, user: PageUser) -> HTMLResponse:
    _console, store = _store(request)
    q = request.query_params
    state = q.get("state") if q.get("state") in ("open", "acknowledged", "resolved") else None
    size = _int(q.get("size"), 25, 1, 100)
    size = size if size in PAGE_SIZES else 25
    total = store.count(state=state)
    pages = max(1, -(-total // size))
    page = _int(q.get("page"), 1, 1, pages)
    rows = store.list_incidents(state=state, limit=size, offset=(page - 1) * size)
    counts = {s: store.count(state=s) for s in ("open", "acknowledged", "resolved")}
    return _render(
        request,
        "incidents.html",
        rows=rows,
        counts=counts,
        state=state,
        page=page,
        pages=pages,
        size=size,
        sizes=PAGE_SIZES,
        total=total,
    )


def timeline_svg(alerts: list[AlertRow], width: int = 900, height: int = 140) -> Markup:
    """Alerts per bucket over the incident's span, stacked by severity: SVG with CSS classes only."""
    if not alerts:
        return Markup("")
    first = min(a.window_start for a in alerts)
    last = max(a.window_end for a in alerts)
    span = max((last - first).total_seconds(), 60.0)
    step = next(
        (s for s in (60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 86400) if span / s <= 60), 7 * 86400
    )
    start = first.timestamp() // step * step
    n = int((last.timestamp() - start) // step) + 1
    buckets: list[dict[str, int]] = [{} for _ in range(n)]
    for a in alerts:
        i = int((a.window_end.timestamp() - 1 - start) // step)
        b = buckets[max(0, min(n - 1, i))]
        b[a.severity] = b.get(a.severity, 0) + 1
    top = max(sum(b.values()) for b in buckets) or 1
    nice = next(v for v in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10**9) if v >= top)
    left, plot_h = 44, height - 32
    bar_w = (width - left - 8) / n
    head = f'<svg class="timeline" viewBox="0 0 {width} {height}" role="img" aria-label="alerts over time" '
    parts = [head + 'data-testid="timeline">']
    for frac in (0.0, 0.5, 1.0):
        y = 6 + plot_h * (1 - frac)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{nice * frac:g}</text>'
        )
    for i, b in enumerate(buckets):
        y = 6 + plot_h
        for sev in ("info", "warning", "high", "critical"):
            c = b.get(sev, 0)
            if not c:
                continue
            h = plot_h * c / nice
            y -= h
            when = dt.datetime.fromtimestamp(start + i * step, dt.UTC).strftime("%H:%M")
            parts.append(
                f'<rect class="bar sev-{sev}" x="{left + i * bar_w + 1:.1f}" y="{y:.1f}" '
                f'width="{max(bar_w - 2, 1):.1f}" height="{h:.1f}"><title>{when} UTC: {c} {sev}</title></rect>'
            )
    for i in range(0, n, max(1, n // 6)):
        label = dt.datetime.fromtimestamp(start + i * step, dt.UTC).strftime(
            "%m-%d %H:%M" if step >= 3600 else "%H:%M"
        )
        parts.append(f'<text class="axis" x="{left + i * bar_w:.1f}" y="{height - 4}">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, incident_id: str, user: PageUser) -> HTMLResponse:
    console, store = _store(request)
    row = store.get(incident_id)
    if row is None:
        return _not_found(request, "Incident not found", f"no incident {incident_id!r}")
    alerts = store.alerts(incident_id)
    return _render(
        request,
        "incident.html",
        i=row,
        rec=row.record,
        alerts=alerts,
        ledger=store.ledger(incident_id),
        timeline=timeline_svg(alerts),
        sizes=PAGE_SIZES,
        agency=console.registry.get(row.ori),
    )


@router.post("/incidents/{incident_id}/{action}")
def incident_action(
    request: Request,
    incident_id: str,
    action: str,
    user: PageUser,
    note: ActionNote,
) -> Response:
    if action not in ACTIONS:
        return _not_found(request, "Not found", f"no action {action!r} on incidents")
    require(user, "responder", f"to {action} an incident")
    back = RedirectResponse(f"/incidents/{incident_id}", status.HTTP_303_SEE_OTHER)
    try:
        body = m.AlertNote(note=note)  # the same check as the alert page and the API
    except ValidationError:
        _flash(request, "error", f"Write a note to {action} the incident.")
        return back
    _console, store = _store(request)
    try:
        entry = store.act(incident_id, ACTIONS[action], user.name, body.note)
    except IncidentNotFound as exc:
        return _not_found(request, "Incident not found", str(exc))
    except AlertStateError as exc:
        _flash(request, "error", str(exc))
        return back
    _flash(
        request,
        "ok",
        f"Incident {entry.action} by {entry.actor} with {entry.alerts} alert(s) (ledger entry {entry.id}).",
    )
    return back
