"""Incidents in the database: idempotent upserts from the pipeline, and what on-call does about them.

The pipeline re-emits an incident whenever it grows or closes; ``upsert_incidents`` keeps the latest
record (by alert count, then last window) and the on-call ``state``: an acknowledged incident stays
acknowledged as it grows; a resolved one that receives new alerts opens again. Acting on an incident
(``IncidentStore.act``) appends to the incident's ledger and records the same action on each of its
alerts through ``AlertStore.acknowledge``/``resolve`` — the one ledger-append path of alerts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, Final

import msgspec
from sqlalchemy import Connection, Table, case, func, select, update

from schemas.outputs import Incident
from sinks.alert_store import AlertRow, AlertStateError, AlertStore, alert_rows, select_alerts
from sinks.db import SYSTEM_ACTOR, SinkError, entries, parse_utc, records_as, where_given, write_transaction
from sinks.ledger import NewEntry, append_entry
from sinks.models import AlertRecord, IncidentLedgerEntry, IncidentRecord

INCIDENT_STATES: Final = ("open", "acknowledged", "resolved")
ACTIONS: Final = {
    "ack": "acknowledged",
    "acknowledged": "acknowledged",
    "resolve": "resolved",
    "resolved": "resolved",
}


class IncidentNotFound(SinkError, LookupError):
    """No incident with that id."""


class IncidentRow(msgspec.Struct, frozen=True, kw_only=True):
    incident_id: str
    ori: str
    component: str | None
    severity: str
    status: str  # the pipeline's: open | closed
    state: str  # on-call's: open | acknowledged | resolved
    first_window_start: dt.datetime
    last_window_end: dt.datetime
    alerts: int
    story: str
    record: dict[str, Any]
    first_seen_at: dt.datetime
    updated_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        ours = msgspec.to_builtins(self)  # the stored record, and on top: status, state and times
        return {**self.record, **{k: ours[k] for k in ("status", "state", "first_seen_at", "updated_at")}}


class IncidentLedgerRow(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    incident_id: str
    action: str
    actor: str
    note: str | None
    alerts: int
    at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]


def _row(inc: Incident, now: dt.datetime) -> dict[str, Any]:
    return {
        "incident_id": inc.incident_id,
        "ori": inc.ori,
        "component": inc.component,
        "severity": inc.severity,
        "status": inc.status,
        "state": "open",
        "first_window_start": parse_utc(inc.first_window_start, name="first_window_start"),
        "last_window_end": parse_utc(inc.last_window_end, name="last_window_end"),
        "alerts": inc.alerts,
        "story": inc.story,
        "record": msgspec.to_builtins(inc),
        "first_seen_at": now,
        "updated_at": now,
    }


def latest(incidents: Sequence[Incident]) -> list[Incident]:
    """The latest record of each incident in a batch (the pipeline emits them in order)."""
    by_id: dict[str, Incident] = {}
    for inc in incidents:
        by_id[inc.incident_id] = inc
    return list(by_id.values())


def upsert_incidents(
    conn: Connection, insert: Callable[[Table], Any], incidents: Sequence[Incident], now: dt.datetime
) -> int:
    """Write the latest record of each incident in one statement; keeps on-call's state."""
    rows = [_row(i, now) for i in latest(incidents)]
    if not rows:
        return 0
    table: Any = IncidentRecord.__table__
    stmt = insert(table)
    x = stmt.excluded
    set_: dict[str, Any] = {c: x[c] for c in rows[0] if c not in ("incident_id", "first_seen_at", "state")}
    set_["state"] = case(
        ((table.c.state == "resolved") & (x["alerts"] > table.c.alerts), "open"),
        else_=table.c.state,
    )
    conn.execute(stmt.on_conflict_do_update(index_elements=["incident_id"], set_=set_), rows)
    return len(rows)


_SEVERITY_ORDER = case(
    (IncidentRecord.severity == "critical", 0),
    (IncidentRecord.severity == "high", 1),
    (IncidentRecord.severity == "warning", 2),
    else_=3,
)


class IncidentStore:
    """Read incidents and record what people did about them."""

    def __init__(self, alert_store: AlertStore) -> None:
        self.alert_store = alert_store
        self.engine = alert_store.engine

    def list_incidents(
        self,
        *,
        state: str | None = None,
        ori: str | None = None,
        severity: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[IncidentRow]:
        """Incidents: open before handled, then most severe first, then the newest first."""
        if limit < 1:
            raise SinkError(f"limit must be at least 1, got {limit}")
        query = where_given(select(IncidentRecord), IncidentRecord, state=state, ori=ori, severity=severity)
        handled = case((IncidentRecord.state == "resolved", 1), else_=0)
        query = (
            query.order_by(
                handled, _SEVERITY_ORDER, IncidentRecord.last_window_end.desc(), IncidentRecord.incident_id
            )
            .limit(limit)
            .offset(offset)
        )
        return records_as(self.engine, query, IncidentRow)

    def count(self, *, state: str | None = None) -> int:
        query = where_given(select(func.count()).select_from(IncidentRecord), IncidentRecord, state=state)
        with self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def get(self, incident_id: str) -> IncidentRow | None:
        found = records_as(
            self.engine, select(IncidentRecord).where(IncidentRecord.incident_id == incident_id), IncidentRow
        )
        return found[0] if found else None

    def alerts(self, incident_id: str) -> list[AlertRow]:
        """The incident's alerts, in event-time order."""
        query = (
            select_alerts()
            .where(AlertRecord.incident_id == incident_id)
            .order_by(AlertRecord.window_end, AlertRecord.window_start, AlertRecord.alert_id)
        )
        with self.engine.connect() as conn:
            return alert_rows(conn.execute(query))

    def ledger(self, incident_id: str) -> list[IncidentLedgerRow]:
        return entries(self.engine, IncidentLedgerEntry, IncidentLedgerRow, incident_id=incident_id)

    def act(self, incident_id: str, action: str, actor: str, note: str) -> IncidentLedgerRow:
        """Acknowledge or resolve an incident and every alert of it (each alert's ledger gets its entry;
        alerts already resolved are left as they are)."""
        if action not in ACTIONS:
            raise SinkError(f"unknown incident action {action!r}: use ack or resolve")
        done = ACTIONS[action]
        if not actor.strip():
            raise SinkError("an incident action needs the name of the person taking it")
        if actor.strip().casefold() == SYSTEM_ACTOR:
            raise SinkError(f"{SYSTEM_ACTOR!r} is reserved for the pipeline itself: act under your own name")
        if not note.strip():
            raise SinkError("an incident action needs a note: what was done or found")
        incident = self.get(incident_id)
        if incident is None:
            raise IncidentNotFound(f"no incident {incident_id!r}")
        if incident.state == "resolved":
            raise AlertStateError(f"incident {incident_id} is already resolved")
        reached = 0
        for alert in self.alerts(incident_id):
            if alert.status == "resolved":
                continue
            try:
                if done == "acknowledged":
                    self.alert_store.acknowledge(alert.alert_id, actor, note)
                else:
                    self.alert_store.resolve(alert.alert_id, actor, note)
            except AlertStateError:  # resolved meanwhile by someone else: nothing left to record on it
                continue
            reached += 1
        now = self.alert_store.clock()  # the alert store's clock: tests set it
        ledger: Any = IncidentLedgerEntry.__table__
        incidents: Any = IncidentRecord.__table__
        with write_transaction(self.engine) as conn:
            row = {
                "incident_id": incident_id,
                "action": done,
                "actor": actor,
                "note": note,
                "alerts": reached,
                "at": now,
            }
            new_id = conn.execute(ledger.insert().returning(ledger.c.id), row).scalar_one()
            # journalled in the hash chain in the same transaction (`clets-watch alerts verify` checks both)
            append_entry(
                conn, NewEntry("incident", incident_id, done, actor, note, now, f"incident_ledger:{new_id}")
            )
            conn.execute(update(incidents).where(incidents.c.incident_id == incident_id).values(state=done))
        return IncidentLedgerRow(
            id=new_id, incident_id=incident_id, action=done, actor=actor, note=note, alerts=reached, at=now
        )
