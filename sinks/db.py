"""The database sink: idempotent batch writes of the pipeline's results, and the queries the CLI needs.

One transaction per batch; every row is keyed by a deterministic id (event id; ORI + window kind +
window start + revision; alert id; dead-letter digest), so writing a batch again after a crash and a
redelivery changes nothing. Works on SQLite (the laptop default) and PostgreSQL; the dialect's
``INSERT … ON CONFLICT`` is chosen at runtime.

Schema changes go through Alembic (``sinks/migrations``); ``upgrade(url)`` runs them in code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Self, TypeVar

import msgspec
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, case, create_engine, event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
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
from sqlalchemy.orm import Session

from schemas.outputs import Aggregate, Alert, DeadLetter, Incident, ProcessedEvent
from sinks.ledger import NewEntry, append_entries, append_entry
from sinks.models import (
    RECOMMENDATION_STATES,
    TABLES,
    UTC,
    AgencyRecommendation,
    AgencyRecommendationHistory,
    AlertLedgerEntry,
    AlertRecord,
    Base,
    DeadLetterRecord,
    DisclosureFiling,
    PipelineCheckpoint,
    QueryVerdict,
    WindowAggregate,
)
from sinks.sessions import ConsoleSession  # noqa: F401 - its table belongs to the schema the migrations build

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SYSTEM_ACTOR = "clets-watch"
MAX_DETAIL_CHARS = 2000
_MIGRATION_LOCK_ID = 0x0C1E75  # PostgreSQL advisory lock: one migrator at a time
# Dead letters that may come beside another one for the same message: their reason is part of their id (the
# ids of the other reasons stay what they were, so a redelivery after an upgrade adds no second row).
_EXTRA_DEAD_LETTER_REASONS = frozenset({"conflicting_duplicate", "sink_rejected"})
_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

T = TypeVar("T")


class SinkError(Exception):
    """A database-sink request that cannot be carried out (the message says why)."""


class AlertNotFound(SinkError, LookupError):
    """No alert with that id."""


class AlertStateError(SinkError):
    """The alert cannot take that action in its current state (e.g. it is already resolved)."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


# --------------------------------------------------------------------------------------- migrations


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config built in code: no alembic.ini is needed at runtime."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.attributes["url"] = url  # not set_main_option: '%' in passwords breaks configparser
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package ships at least one revision
        raise SinkError(f"no Alembic revisions under {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(url_or_engine: str | Engine, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (default: the newest)."""
    engine = url_or_engine if isinstance(url_or_engine, Engine) else create_sink_engine(url_or_engine)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})")
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        if not isinstance(url_or_engine, Engine):
            engine.dispose()


def create_sink_engine(url: str) -> Engine:
    """An engine with the settings the sink relies on (SQLite: foreign keys, WAL, real transactions)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if parsed.database and parsed.database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_IMMEDIATE) else "BEGIN")

    return engine


_IMMEDIATE: Final = "clets_watch_write_lock_first"


def write_transaction(engine: Engine) -> AbstractContextManager[Connection]:
    """``engine.begin()`` for a transaction that reads and then writes (a ledger action). On SQLite it
    begins with ``BEGIN IMMEDIATE``: the write lock is taken first, waiting up to the busy timeout, so a
    concurrent writer never turns the read-then-write into "database is locked" (a deferred transaction
    cannot upgrade a stale snapshot). PostgreSQL locks the rows it reads ``FOR UPDATE`` instead."""
    return engine.execution_options(**{_IMMEDIATE: True}).begin()


def create_private_file(path: Path) -> None:
    """Create ``path`` empty and owner-only (0600) unless it exists, and its folder (0700) too.
    SQLite gives its -wal and -shm files the database file's permissions."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


# ------------------------------------------------------------------------------------------ values


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


@dataclass(frozen=True)
class AlertRow:
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
    evidence: dict[str, Any]
    status: str
    raised_as: str
    suppressed_reason: str | None
    first_seen_at: dt.datetime
    incident_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "rule": self.rule,
            "rule_version": self.rule_version,
            "severity": self.severity,
            "ori": self.ori,
            "component": self.component,
            "key": self.key,
            "window_start": _iso(self.window_start),
            "window_end": _iso(self.window_end),
            "summary": self.summary,
            "evidence": self.evidence,
            "status": self.status,
            "raised_as": self.raised_as,
            "suppressed_reason": self.suppressed_reason,
            "first_seen_at": _iso(self.first_seen_at),
            "incident_id": self.incident_id,
        }


@dataclass(frozen=True)
class LedgerRow:
    """One entry of an alert's append-only ledger."""

    id: int
    alert_id: str
    action: str
    actor: str
    note: str | None
    at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "alert_id": self.alert_id,
            "action": self.action,
            "actor": self.actor,
            "note": self.note,
            "at": _iso(self.at),
        }


@dataclass(frozen=True)
class RecommendationRow:
    ori: str
    component: str | None
    state: str
    reason: str
    alert_ids: tuple[str, ...]
    actor: str
    at: dt.datetime


@dataclass(frozen=True)
class DisclosureRow:
    ori: str
    year: int
    filed_at: dt.datetime | None
    investigations_opened: int | None
    outcomes: str | None


def _iso(value: dt.datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_utc(value: str | dt.datetime, *, name: str = "time") -> dt.datetime:
    """An RFC 3339 string (or datetime) with an offset, as an aware UTC datetime."""
    parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"{name} {value!r} has no UTC offset")
    return parsed.astimezone(UTC)


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
    return {
        "alert_id": alert.alert_id,
        "rule": alert.rule,
        "rule_version": alert.rule_version,
        "severity": alert.severity,
        "ori": alert.ori,
        "component": alert.component,
        "key": alert.key,
        "window_start": parse_utc(alert.window_start, name="window_start"),
        "window_end": parse_utc(alert.window_end, name="window_end"),
        "summary": alert.summary,
        "evidence": msgspec.to_builtins(alert.evidence),
        "status": alert.status,
        "suppressed_reason": alert.suppressed_reason,
        "state": alert.status,
        "first_seen_at": now,
        "incident_id": alert.incident_id,
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


# ------------------------------------------------------------------------------------------ the sink


class DatabaseSink:
    """Idempotent writer of pipeline results, and the read side used by the CLI and the demo."""

    def __init__(self, url: str, *, create: bool = True, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.url = url
        self._clock = clock
        path = sqlite_path(url)
        if path is not None:
            if create:
                create_private_file(path)
            elif not path.exists():
                raise SinkError(f"no database at {path}")
        self.engine = create_sink_engine(url)
        self.dialect = self.engine.dialect.name
        if self.dialect not in ("sqlite", "postgresql"):
            raise SinkError(f"unsupported database {self.dialect!r}: use SQLite or PostgreSQL")
        if create:
            upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def schema_revision(self) -> str | None:
        return current_revision(self.engine)

    # -- writing ------------------------------------------------------------------------------

    def _insert(self, table: Table) -> Any:
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

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
                from sinks.incidents import upsert_incidents

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

    # -- alert actions ------------------------------------------------------------------------

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
        now = self._clock()
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
        query = select(AlertRecord)
        if rule is not None:
            query = query.where(AlertRecord.rule == rule)
        if ori is not None:
            query = query.where(AlertRecord.ori == ori)
        if severity is not None:
            query = query.where(AlertRecord.severity == severity)
        if status is not None:
            query = query.where(AlertRecord.state == status)
        query = query.order_by(AlertRecord.window_start.desc(), AlertRecord.alert_id).limit(limit)
        with Session(self.engine) as session:
            return [alert_row_from_record(r) for r in session.scalars(query).all()]

    def get_alert(self, alert_id: str) -> AlertRow | None:
        with Session(self.engine) as session:
            record = session.get(AlertRecord, alert_id)
            return None if record is None else alert_row_from_record(record)

    def alert_ledger(self, alert_id: str) -> list[LedgerRow]:
        query = (
            select(AlertLedgerEntry)
            .where(AlertLedgerEntry.alert_id == alert_id)
            .order_by(AlertLedgerEntry.at, AlertLedgerEntry.id)
        )
        with Session(self.engine) as session:
            return [
                LedgerRow(id=r.id, alert_id=r.alert_id, action=r.action, actor=r.actor, note=r.note, at=r.at)
                for r in session.scalars(query).all()
            ]

    def verdict_counts(self) -> dict[str, int]:
        query = select(QueryVerdict.verdict, func.count()).group_by(QueryVerdict.verdict)
        with self.engine.connect() as conn:
            return {verdict: int(n) for verdict, n in conn.execute(query).all()}

    def count_rows(self) -> dict[str, int]:
        """Row count of every clets-watch table."""
        with self.engine.connect() as conn:
            return {
                name: int(conn.scalar(select(func.count()).select_from(Base.metadata.tables[name])) or 0)
                for name in TABLES
            }

    # -- agency recommendations and disclosure filings -----------------------------------------

    def recommend(
        self,
        ori: str,
        state: str,
        *,
        reason: str,
        actor: str,
        alert_ids: Sequence[str] = (),
        component: str | None = None,
    ) -> RecommendationRow:
        """Set an agency's recommendation (normal, watch, suspend) and append it to the history."""
        if state not in RECOMMENDATION_STATES:
            raise SinkError(f"unknown recommendation {state!r}: one of {', '.join(RECOMMENDATION_STATES)}")
        result = RecommendationRow(
            ori=ori,
            component=component,
            state=state,
            reason=reason,
            alert_ids=tuple(alert_ids),
            actor=actor,
            at=self._clock(),
        )
        row: dict[str, Any] = {**dataclasses.asdict(result), "alert_ids": list(alert_ids)}
        current: Any = AgencyRecommendation.__table__
        history: Any = AgencyRecommendationHistory.__table__
        stmt = self._insert(current)
        stmt = stmt.on_conflict_do_update(
            index_elements=["ori"], set_={c: stmt.excluded[c] for c in row if c != "ori"}
        )
        with write_transaction(self.engine) as conn:
            conn.execute(stmt, row)
            new_id = conn.execute(history.insert().returning(history.c.id), row).scalar_one()
            append_entry(
                conn,
                NewEntry(
                    "agency", ori, state, actor, reason, result.at, f"agency_recommendation_history:{new_id}"
                ),
            )
        return result

    def recommendations(self) -> list[RecommendationRow]:
        with Session(self.engine) as session:
            rows = session.scalars(select(AgencyRecommendation).order_by(AgencyRecommendation.ori)).all()
            return [_recommendation(r) for r in rows]

    def recommendation_history(self, ori: str) -> list[RecommendationRow]:
        query = (
            select(AgencyRecommendationHistory)
            .where(AgencyRecommendationHistory.ori == ori)
            .order_by(AgencyRecommendationHistory.at, AgencyRecommendationHistory.id)
        )
        with Session(self.engine) as session:
            return [_recommendation(r) for r in session.scalars(query).all()]

    def record_disclosure(
        self,
        ori: str,
        year: int,
        *,
        filed_at: dt.datetime | None,
        investigations_opened: int | None,
        outcomes: str | None = None,
    ) -> None:
        """Record (or correct) an agency's annual misuse disclosure for ``year``."""
        row = {
            "ori": ori,
            "year": year,
            "filed_at": filed_at,
            "investigations_opened": investigations_opened,
            "outcomes": outcomes,
        }
        table: Any = DisclosureFiling.__table__
        stmt = self._insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["ori", "year"],
            set_={c: stmt.excluded[c] for c in row if c not in ("ori", "year")},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, row)

    def disclosures(self, *, year: int | None = None) -> list[DisclosureRow]:
        query = select(DisclosureFiling).order_by(DisclosureFiling.year, DisclosureFiling.ori)
        if year is not None:
            query = query.where(DisclosureFiling.year == year)
        with Session(self.engine) as session:
            return [
                DisclosureRow(
                    ori=r.ori,
                    year=r.year,
                    filed_at=r.filed_at,
                    investigations_opened=r.investigations_opened,
                    outcomes=r.outcomes,
                )
                for r in session.scalars(query).all()
            ]


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


def alert_row_from_record(r: AlertRecord) -> AlertRow:
    return AlertRow(
        alert_id=r.alert_id,
        rule=r.rule,
        rule_version=r.rule_version,
        severity=r.severity,
        ori=r.ori,
        component=r.component,
        key=r.key,
        window_start=r.window_start,
        window_end=r.window_end,
        summary=r.summary,
        evidence=dict(r.evidence),
        status=r.state,
        raised_as=r.status,
        suppressed_reason=r.suppressed_reason,
        first_seen_at=r.first_seen_at,
        incident_id=r.incident_id,
    )


def _recommendation(r: AgencyRecommendation | AgencyRecommendationHistory) -> RecommendationRow:
    return RecommendationRow(
        ori=r.ori,
        component=r.component,
        state=r.state,
        reason=r.reason,
        alert_ids=tuple(r.alert_ids),
        actor=r.actor,
        at=r.at,
    )
