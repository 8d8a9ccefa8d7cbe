"""The alert ledger: stored alerts, what people did about them (acknowledge, resolve), and reading both.

``AlertRow`` is the one shape of a stored alert (with its ``schemas.Evidence``): converted by msgspec from
the database's rows (``select_alerts``, ``alert_rows``), encoded by msgspec (``to_json``), and the
console's API models are validated from it. Every human action appends to the alert's ledger and to the
hash chain (``sinks.ledger``) in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import msgspec
from sqlalchemy import Engine, Select, select, update
from sqlalchemy.exc import IntegrityError

from schemas.outputs import Evidence
from sinks.db import SYSTEM_ACTOR, Clock, SinkError, entries, utcnow, where_given, write_transaction
from sinks.ledger import NewEntry, append_entry
from sinks.models import AlertLedgerEntry, AlertRecord

_json_object = msgspec.json.Decoder(dict[str, Any])


class AlertNotFound(SinkError, LookupError):
    """No alert with that id."""


class AlertStateError(SinkError):
    """The alert cannot take that action in its current state (e.g. it is already resolved)."""


class AlertRow(msgspec.Struct, frozen=True, kw_only=True):
    """An alert as stored. ``status`` is its state now (fired, suppressed, acknowledged, resolved);
    ``raised_as`` is what the rule said (fired or suppressed)."""

    alert_id: str
    rule: str
    rule_version: int
    severity: str
    ori: str
    component: str | None
    key: str
    window_start: dt.datetime
    window_end: dt.datetime
    summary: str
    evidence: Evidence
    status: str
    raised_as: str
    suppressed_reason: str | None
    first_seen_at: dt.datetime
    incident_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The alert as ``clets-watch alerts --json`` prints it: JSON values only (lists, times in
        RFC 3339 UTC with ``Z``)."""
        return _json_object.decode(msgspec.json.encode(self))


class LedgerRow(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of an alert's append-only ledger."""

    id: int
    alert_id: str
    action: str
    actor: str
    note: str | None
    at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]


# The columns behind AlertRow's fields: the state now is the ``state`` column, what the rule said ``status``.
_STORED_AS: dict[str, Any] = {"status": AlertRecord.state, "raised_as": AlertRecord.status}
_ALERT_COLUMNS = tuple(
    (_STORED_AS[name] if name in _STORED_AS else getattr(AlertRecord, name)).label(name)
    for name in AlertRow.__struct_fields__
)


def select_alerts() -> Select[Any]:
    """A SELECT of the alerts table whose rows ``alert_rows`` turns into ``AlertRow``s (add the
    WHERE, ORDER BY and LIMIT clauses)."""
    return select(*_ALERT_COLUMNS)


def alert_rows(rows: Iterable[Any]) -> list[AlertRow]:
    """The rows of a ``select_alerts`` query as ``AlertRow``s."""
    return [msgspec.convert(r, AlertRow, from_attributes=True) for r in rows]


class AlertStore:
    """Read alerts and their ledgers, and record acknowledgements and resolutions."""

    def __init__(self, engine: Engine, *, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.clock = clock

    # -- actions ------------------------------------------------------------------------------

    def acknowledge(self, alert_id: str, actor: str, note: str) -> LedgerRow:
        """Record that ``actor`` has seen the alert; refused once it is resolved."""
        return self._act(alert_id, "acknowledged", actor, note, entry_key=None)

    def resolve(self, alert_id: str, actor: str, note: str) -> LedgerRow:
        """Close the alert; an alert is resolved once (a second resolve is refused)."""
        return self._act(alert_id, "resolved", actor, note, entry_key=f"{alert_id}:resolved")

    def _act(self, alert_id: str, action: str, actor: str, note: str, *, entry_key: str | None) -> LedgerRow:
        if not actor.strip():
            raise SinkError("an alert action needs the name of the person taking it")
        if actor.strip().casefold() == SYSTEM_ACTOR:
            raise SinkError(
                f"{SYSTEM_ACTOR!r} is the pipeline's own name: a person acts under their own name"
            )
        if not note.strip():
            raise SinkError("an alert action needs a note: what was done or found")
        alerts: Any = AlertRecord.__table__
        ledger: Any = AlertLedgerEntry.__table__
        now = self.clock()
        try:
            with write_transaction(self.engine) as conn:
                state = conn.scalar(
                    select(alerts.c.state).where(alerts.c.alert_id == alert_id).with_for_update()
                )
                if state is None:
                    raise AlertNotFound(f"no alert {alert_id!r}")
                if state == "resolved":
                    raise AlertStateError(f"alert {alert_id} is already resolved")
                row = {
                    "alert_id": alert_id,
                    "action": action,
                    "actor": actor,
                    "note": note,
                    "at": now,
                    "entry_key": entry_key,
                }
                conn.execute(update(alerts).where(alerts.c.alert_id == alert_id).values(state=action))
                new_id = conn.execute(ledger.insert().returning(ledger.c.id), row).scalar_one()
                append_entry(
                    conn, NewEntry("alert", alert_id, action, actor, note, now, f"alert_ledger:{new_id}")
                )
        except IntegrityError:
            raise AlertStateError(f"alert {alert_id} is already resolved") from None
        return LedgerRow(id=new_id, alert_id=alert_id, action=action, actor=actor, note=note, at=now)

    # -- reading ------------------------------------------------------------------------------

    def list_alerts(
        self,
        *,
        rule: str | None = None,
        ori: str | None = None,
        severity: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[AlertRow]:
        """Alerts, newest window first; ``status`` filters on the state now (fired, suppressed,
        acknowledged, resolved)."""
        if limit < 1:
            raise SinkError(f"limit must be at least 1, got {limit}")
        query = where_given(select_alerts(), AlertRecord, rule=rule, ori=ori, severity=severity, state=status)
        query = query.order_by(AlertRecord.window_start.desc(), AlertRecord.alert_id).limit(limit)
        with self.engine.connect() as conn:
            return alert_rows(conn.execute(query))

    def get_alert(self, alert_id: str) -> AlertRow | None:
        with self.engine.connect() as conn:
            found = alert_rows(conn.execute(select_alerts().where(AlertRecord.alert_id == alert_id)))
        return found[0] if found else None

    def alert_ledger(self, alert_id: str) -> list[LedgerRow]:
        return entries(self.engine, AlertLedgerEntry, LedgerRow, alert_id=alert_id)
