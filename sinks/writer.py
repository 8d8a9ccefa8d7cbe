"""The batch writer the worker needs: idempotent writes of the pipeline's results, and its checkpoints.

One transaction per batch; every row is keyed by a deterministic id (event id; ORI + window kind +
window start + revision; alert id; dead-letter digest), so writing a batch again after a crash and a
redelivery changes nothing. Works on SQLite (the laptop default) and PostgreSQL; the dialect's
``INSERT … ON CONFLICT`` is chosen at runtime (``sinks.db.insert_for``). A refused record is isolated
by bisection and dead-lettered (``write_batch_resilient``): a poison record costs itself, never the stream.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
from sqlalchemy import Connection, Engine, Table, case, select
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from schemas.outputs import Aggregate, Alert, DeadLetter, Incident, ProcessedEvent
from sinks.db import SYSTEM_ACTOR, Clock, insert_for, parse_utc, utcnow, write_transaction
from sinks.incidents import upsert_incidents
from sinks.ledger import NewEntry, append_entries
from sinks.models import (
    AlertLedgerEntry,
    AlertRecord,
    DeadLetterRecord,
    PipelineCheckpoint,
    QueryVerdict,
    WindowAggregate,
)

MAX_DETAIL_CHARS = 2000
# Dead letters that may come beside another one for the same message: their reason is part of their id (the
# ids of the other reasons stay what they were, so a redelivery after an upgrade adds no second row).
_EXTRA_DEAD_LETTER_REASONS = frozenset({"conflicting_duplicate", "sink_rejected"})
_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

T = TypeVar("T")


@dataclass
class SinkBatch:
    """What the pipeline hands the sinks after one batch of events."""

    processed: list[ProcessedEvent] = field(default_factory=list)
    aggregates: list[Aggregate] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)  # sinks/incidents.py writes them

    def __len__(self) -> int:
        return len(self.processed) + len(self.aggregates) + len(self.alerts) + len(self.dead_letters)


@dataclass(frozen=True)
class Checkpoint:
    """The core's state for one partition, valid for every record before ``next_offset``."""

    consumer_group: str
    topic: str
    partition: int
    next_offset: int
    state: bytes


@dataclass(frozen=True)
class BatchResult:
    """What a write changed: rows new to the database (a replayed batch gives all zeros but
    ``aggregates_written``, which counts upserted aggregate rows)."""

    verdicts_inserted: int = 0
    aggregates_written: int = 0
    alerts_inserted: int = 0
    alerts_updated: int = 0
    ledger_rows_inserted: int = 0
    dead_letters_inserted: int = 0


@dataclass(frozen=True)
class ResilientResult:
    """``write_batch_resilient``: what was written, and the records the database refused (dead-lettered
    as ``sink_rejected`` with the database's message)."""

    result: BatchResult
    rejected: list[DeadLetter] = field(default_factory=list)
    attempts: int = 1


def is_transient(exc: BaseException) -> bool:
    """A database error worth retrying as is: the connection, a lock or statement timeout, the pool.
    A refused row (bad data, a broken constraint) is not: the same batch would be refused forever."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(
        exc, (OperationalError, InterfaceError, DisconnectionError, PoolTimeout, ConnectionError)
    )


def is_data_error(exc: BaseException) -> bool:
    """The database (or its driver) refused a row: e.g. PostgreSQL's "cannot contain NUL" or a value out
    of range. Deterministic: retrying the same row never helps."""
    if isinstance(exc, (DataError, IntegrityError)):
        return True
    return isinstance(exc, StatementError) and isinstance(exc.orig, (ValueError, TypeError))


def storable(text: str) -> str:
    """``text`` with control characters (which PostgreSQL may refuse) written as ``\\uXXXX``."""
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def dead_letter_id(dead: DeadLetter) -> str:
    """Deterministic id of a dead letter: the digest of where it came from and what it was."""
    digest = hashlib.sha256()
    digest.update((dead.source or "").encode("utf-8", "surrogatepass"))
    digest.update(b"\x00")
    digest.update(dead.payload)
    if dead.reason in _EXTRA_DEAD_LETTER_REASONS:  # one message can be late and a conflicting duplicate too
        digest.update(b"\x00" + dead.reason.encode())
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------ rows


def _verdict_row(event: ProcessedEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "occurred_at": parse_utc(event.occurred_at, name="occurred_at"),
        "ori": event.ori,
        "component": event.component,
        "message_type": event.message_type,
        "data_source": event.data_source,
        "purpose_code": event.purpose_code,
        "verdict": event.verdict,
        "purpose": event.purpose,
        "rules": list(event.rules),
        "policy_version": event.policy_version,
        "operator": event.operator,
        "subject_key": event.subject_key,
        "has_reason": event.has_reason,
        "has_case_number": event.has_case_number,
        "source": event.source,
    }


def _aggregate_row(agg: Aggregate) -> dict[str, Any]:
    return {
        "ori": agg.ori,
        "window_kind": agg.window_kind,
        "window_start": parse_utc(agg.window_start, name="window_start"),
        "revision": agg.revision,
        "window_end": parse_utc(agg.window_end, name="window_end"),
        "total": agg.total,
        "by_verdict": dict(agg.by_verdict),
        "by_purpose": dict(agg.by_purpose),
        "by_data_source": dict(agg.by_data_source),
        "late": agg.late,
    }


def _alert_row(alert: Alert, now: dt.datetime) -> dict[str, Any]:
    """The row of a new alert: its own fields, times parsed; its state starts as what the rule said."""
    return {
        **msgspec.structs.asdict(alert),
        "window_start": parse_utc(alert.window_start, name="window_start"),
        "window_end": parse_utc(alert.window_end, name="window_end"),
        "evidence": msgspec.to_builtins(alert.evidence),
        "state": alert.status,
        "first_seen_at": now,
    }


def _dead_letter_row(dead: DeadLetter, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": dead_letter_id(dead),
        "reason": dead.reason,
        "detail": storable(dead.detail[:MAX_DETAIL_CHARS]),
        "source": storable(dead.source) if dead.source is not None else None,
        "event_id": storable(dead.event_id) if dead.event_id is not None else None,
        "payload_sha256": hashlib.sha256(dead.payload).hexdigest(),
        "payload_bytes": len(dead.payload),
        "at": now,
    }


def _last_by_key(
    rows: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Any]
) -> list[dict[str, Any]]:
    """Drop duplicate keys inside one batch (the last wins): PostgreSQL refuses to upsert one row twice
    in a statement, and a redelivered message can sit twice in a batch."""
    unique: dict[Any, dict[str, Any]] = {}
    for row in rows:
        unique[key(row)] = row
    return list(unique.values())


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ------------------------------------------------------------------------------------------ the writer


class BatchWriter:
    """Idempotent writer of the pipeline's results and its checkpoints, on an engine it does not own."""

    def __init__(self, engine: Engine, *, clock: Clock = utcnow) -> None:
        self.engine = engine
        self._clock = clock

    def _insert(self, table: Table) -> Any:
        return insert_for(self.engine, table)

    def write_batch(self, batch: SinkBatch) -> BatchResult:
        """Write one batch in one transaction; idempotent (a replayed batch changes nothing)."""
        now = self._clock()
        verdicts = _last_by_key((_verdict_row(e) for e in batch.processed), lambda r: r["event_id"])
        aggregates = _last_by_key(
            (_aggregate_row(a) for a in batch.aggregates),
            lambda r: (r["ori"], r["window_kind"], r["window_start"], r["revision"]),
        )
        alerts = _last_by_key((_alert_row(a, now) for a in batch.alerts), lambda r: r["alert_id"])
        dead = _last_by_key((_dead_letter_row(d, now) for d in batch.dead_letters), lambda r: r["id"])

        with write_transaction(self.engine) as conn:
            verdicts_inserted = self._insert_new(conn, QueryVerdict.__table__, verdicts, "event_id")
            aggregates_written = self._upsert_aggregates(conn, aggregates)
            alerts_inserted, alerts_updated, ledger_inserted = self._upsert_alerts(conn, alerts, now)
            dead_inserted = self._insert_new(conn, DeadLetterRecord.__table__, dead, "id")
            if batch.incidents:
                upsert_incidents(conn, self._insert, batch.incidents, now)
            self._save_checkpoints(conn, batch.checkpoints, now)
        return BatchResult(
            verdicts_inserted=verdicts_inserted,
            aggregates_written=aggregates_written,
            alerts_inserted=alerts_inserted,
            alerts_updated=alerts_updated,
            ledger_rows_inserted=ledger_inserted,
            dead_letters_inserted=dead_inserted,
        )

    def write_batch_resilient(self, batch: SinkBatch) -> ResilientResult:
        """``write_batch``; when the database refuses a row, find the refused records by bisection,
        write every other record, dead-letter the refused ones as ``sink_rejected`` (with the
        database's message) and save the checkpoints: a poison record costs itself, never the stream.
        Transient errors (connection, timeouts) are raised for the caller to retry."""
        try:
            return ResilientResult(self.write_batch(batch))
        except Exception as exc:
            if not is_data_error(exc):
                raise
        items: list[tuple[str, Any]] = [
            *(("processed", x) for x in batch.processed),
            *(("aggregates", x) for x in batch.aggregates),
            *(("alerts", x) for x in batch.alerts),
            *(("dead_letters", x) for x in batch.dead_letters),
        ]
        attempts = [1]
        refused = self._isolate(items, attempts)
        rejected = [_rejected(kind, item, message) for kind, item, message in refused]
        result = self.write_batch(SinkBatch(dead_letters=rejected, checkpoints=batch.checkpoints))
        return ResilientResult(result, rejected, attempts[0] + 1)

    def _isolate(self, items: list[tuple[str, Any]], attempts: list[int]) -> list[tuple[str, Any, str]]:
        """Write what the database accepts of ``items``; return the refused ones with its message."""
        if not items:
            return []
        part = SinkBatch()
        for kind, item in items:
            getattr(part, kind).append(item)
        attempts[0] += 1
        try:
            self.write_batch(part)
            return []
        except Exception as exc:
            if not is_data_error(exc):
                raise
            if len(items) == 1:
                message = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
                return [(items[0][0], items[0][1], message)]
        mid = len(items) // 2
        return self._isolate(items[:mid], attempts) + self._isolate(items[mid:], attempts)

    def _save_checkpoints(self, conn: Connection, checkpoints: list[Checkpoint], now: dt.datetime) -> None:
        if not checkpoints:
            return
        table: Any = PipelineCheckpoint.__table__
        keys = ["consumer_group", "topic", "partition"]
        rows = [
            {
                "consumer_group": c.consumer_group,
                "topic": c.topic,
                "partition": c.partition,
                "next_offset": c.next_offset,
                "state": c.state,
                "written_at": now,
            }
            for c in checkpoints
        ]
        stmt = self._insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=keys, set_={c: stmt.excluded[c] for c in ("next_offset", "state", "written_at")}
        )
        conn.execute(stmt, rows)

    def load_checkpoint(self, consumer_group: str, topic: str, partition: int) -> Checkpoint | None:
        """The last checkpoint written for this partition, or None for a partition never consumed."""
        table: Any = PipelineCheckpoint.__table__
        with self.engine.connect() as conn:
            row = conn.execute(
                select(table.c.next_offset, table.c.state).where(
                    table.c.consumer_group == consumer_group,
                    table.c.topic == topic,
                    table.c.partition == partition,
                )
            ).first()
        if row is None:
            return None
        return Checkpoint(consumer_group, topic, partition, int(row.next_offset), bytes(row.state))

    def _insert_new(self, conn: Connection, table: Any, rows: list[dict[str, Any]], key: str) -> int:
        """INSERT … ON CONFLICT DO NOTHING as one executemany; returns how many rows were new."""
        if not rows:
            return 0
        stmt = self._insert(table).on_conflict_do_nothing(index_elements=[key]).returning(table.c[key])
        return len(conn.execute(stmt, rows).all())

    def _upsert_aggregates(self, conn: Connection, rows: list[dict[str, Any]]) -> int:
        if not rows:
            return 0
        table: Any = WindowAggregate.__table__
        stmt = self._insert(table)
        keys = ["ori", "window_kind", "window_start", "revision"]
        stmt = stmt.on_conflict_do_update(
            index_elements=keys,
            set_={c: stmt.excluded[c] for c in rows[0] if c not in keys},
        )
        conn.execute(stmt, rows)
        return len(rows)

    def _upsert_alerts(
        self, conn: Connection, rows: list[dict[str, Any]], now: dt.datetime
    ) -> tuple[int, int, int]:
        if not rows:
            return 0, 0, 0
        table: Any = AlertRecord.__table__
        existing: set[str] = set()
        for chunk in _chunks([r["alert_id"] for r in rows], 500):
            existing.update(conn.scalars(select(table.c.alert_id).where(table.c.alert_id.in_(chunk))))
        stmt = self._insert(table)
        kept = {"alert_id", "first_seen_at", "state"}
        set_: dict[str, Any] = {c: stmt.excluded[c] for c in rows[0] if c not in kept}
        # An acknowledged or resolved alert keeps its state when the rule re-emits it.
        set_["state"] = case(
            # two comparisons, not IN (…): an expanding IN cannot run in an executemany
            ((table.c.state == "acknowledged") | (table.c.state == "resolved"), table.c.state),
            else_=stmt.excluded["status"],
        )
        conn.execute(stmt.on_conflict_do_update(index_elements=["alert_id"], set_=set_), rows)

        ledger: Any = AlertLedgerEntry.__table__
        known: set[str] = set()
        for chunk in _chunks([f"{r['alert_id']}:{r['status']}" for r in rows], 500):
            known.update(conn.scalars(select(ledger.c.entry_key).where(ledger.c.entry_key.in_(chunk))))
        entries = [
            {
                "alert_id": r["alert_id"],
                "action": r["status"],
                "actor": SYSTEM_ACTOR,
                "note": r["suppressed_reason"] if r["status"] == "suppressed" else None,
                "at": now,
                "entry_key": f"{r['alert_id']}:{r['status']}",
            }
            for r in rows
            if f"{r['alert_id']}:{r['status']}" not in known  # SQLite refuses an insert over an entry
        ]
        stmt = (
            self._insert(ledger)
            .on_conflict_do_nothing(index_elements=["entry_key"])  # a concurrent writer on PostgreSQL
            .returning(ledger.c.id, ledger.c.entry_key)
        )
        new_ids = {key: row_id for row_id, key in conn.execute(stmt, entries).all()} if entries else {}
        ledger_inserted = len(new_ids)
        append_entries(
            conn,
            [
                NewEntry(
                    "alert",
                    e["alert_id"],
                    e["action"],
                    e["actor"],
                    e["note"],
                    e["at"],
                    f"alert_ledger:{new_ids[e['entry_key']]}",
                )
                for e in entries
                if e["entry_key"] in new_ids
            ],
        )
        inserted = sum(1 for r in rows if r["alert_id"] not in existing)
        return inserted, len(rows) - inserted, ledger_inserted


_record_json = msgspec.json.Encoder()


def _rejected(kind: str, item: Any, message: str) -> DeadLetter:
    """A record the database refused, as a ``sink_rejected`` dead letter naming the database's message."""
    what = {
        "processed": "verdict",
        "aggregates": "aggregate",
        "alerts": "alert",
        "dead_letters": "dead letter",
    }[kind]
    event_id = getattr(item, "event_id", None) or getattr(item, "alert_id", None)
    if isinstance(item, DeadLetter):
        payload, source = item.payload, item.source
    else:
        payload, source = _record_json.encode(item), getattr(item, "source", None)
    return DeadLetter(
        reason="sink_rejected",
        detail=f"the database refused this {what}: {message}",
        payload=payload,
        source=source,
        event_id=event_id,
    )
