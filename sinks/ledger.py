"""The tamper-evident ledger: one hash-chained journal of every recorded action, whatever it is on.

Every ledger entry — an alert fired or suppressed by the pipeline, acknowledged or resolved by a
person, an agency's access recommendation changed (and, later, anything else that keeps a ledger) —
is appended through ``append_entries``, the one function that writes ``ledger_entries``. An entry
names the entity (``entity_kind`` + ``entity_id``), the ``action``, the ``actor``, the ``note``, the
time, and ``ref``: the row of an entity's own history table it journals (``alert_ledger:17``), if any.

Each entry carries ``entry_hash = SHA-256(canonical JSON of its fields and prev_hash)`` and the
previous entry's hash as ``prev_hash``: changing, removing or reordering an entry breaks the chain
from there on, and ``verify`` names the first broken entry. The database refuses UPDATE and DELETE
on the ledger tables outright (triggers created by migration 0004, on SQLite and PostgreSQL); the
chain is what shows tampering by someone who dropped the triggers. Someone who can drop triggers
can also rewrite the whole chain: record the head hash ``clets-watch alerts verify`` prints somewhere
else, and later check that the chain still passes through it (``--expect-head``) to catch that.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Engine, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from sinks.models import UTC, AgencyRecommendationHistory, AlertLedgerEntry, Base, IncidentLedgerEntry

GENESIS: Final = "0" * 64
HASH_VERSION: Final = 1
#: the tables migration 0004 made append-only; migration 0005 adds the incident ledger (INCIDENT_TABLES)
FIRST_LEDGER_TABLES: Final = ("alert_ledger", "agency_recommendation_history", "ledger_entries")
INCIDENT_TABLES: Final = ("incident_ledger",)
LEDGER_TABLES: Final = FIRST_LEDGER_TABLES + INCIDENT_TABLES
_LOCK_ID: Final = 0x0C1E76  # PostgreSQL advisory lock: one appender at a time keeps the chain linear
_VERIFY_CHUNK: Final = 5000


class LedgerError(ValueError):
    """A ledger entry that cannot be appended (the message says which field is wrong)."""


class LedgerEntry(Base):
    """One entry of the hash-chained ledger (append-only: the database refuses UPDATE and DELETE)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_entity", "entity_kind", "entity_id"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity_kind: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(160))
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime]
    ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


@dataclass(frozen=True, slots=True)
class NewEntry:
    """What a caller appends: the entity, the action, who, why, when, and the history row it journals."""

    entity_kind: str
    entity_id: str
    action: str
    actor: str
    note: str | None
    at: dt.datetime
    ref: str | None = None

    def check(self) -> None:
        for name, limit in (("entity_kind", 32), ("entity_id", 160), ("action", 32), ("actor", 128)):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise LedgerError(f"ledger entry: {name} must be a non-empty string, got {value!r}")
            if len(value) > limit:
                raise LedgerError(f"ledger entry: {name} is longer than {limit} characters")
        if self.at.tzinfo is None:
            raise LedgerError(f"ledger entry: naive time {self.at!r}")


def _when(at: dt.datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(prev_hash: str, entry: NewEntry) -> str:
    """SHA-256 over the canonical JSON of the entry's fields and the previous entry's hash."""
    body = {
        "v": HASH_VERSION,
        "prev": prev_hash,
        "kind": entry.entity_kind,
        "id": entry.entity_id,
        "action": entry.action,
        "actor": entry.actor,
        "note": entry.note,
        "at": _when(entry.at),
        "ref": entry.ref,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _head(conn: Connection) -> str:
    table: Any = LedgerEntry.__table__
    head = conn.scalar(select(table.c.entry_hash).order_by(table.c.seq.desc()).limit(1))
    return str(head) if head is not None else GENESIS


def append_entries(conn: Connection, entries: Sequence[NewEntry]) -> list[str]:
    """Append entries to the hash chain in the caller's transaction; returns their hashes.

    The one function that writes the ledger. On PostgreSQL an advisory transaction lock keeps two
    appenders from chaining onto the same head; on SQLite the caller's write transaction does."""
    if not entries:
        return []
    for e in entries:
        e.check()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_ID})")
    prev = _head(conn)
    rows: list[dict[str, Any]] = []
    for e in entries:
        digest = entry_hash(prev, e)
        rows.append(
            {
                "entity_kind": e.entity_kind,
                "entity_id": e.entity_id,
                "action": e.action,
                "actor": e.actor,
                "note": e.note,
                "at": e.at,
                "ref": e.ref,
                "prev_hash": prev,
                "entry_hash": digest,
            }
        )
        prev = digest
    table: Any = LedgerEntry.__table__
    conn.execute(table.insert(), rows)
    return [r["entry_hash"] for r in rows]


def append_entry(conn: Connection, entry: NewEntry) -> str:
    """Append one entry (see ``append_entries``); returns its hash."""
    return append_entries(conn, [entry])[0]


# ------------------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class VerifyResult:
    entries: int
    head: str
    broken_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, **dataclasses.asdict(self)}


def _entries(conn: Connection) -> Iterator[Any]:
    table: Any = LedgerEntry.__table__
    last = 0
    while True:
        chunk = conn.execute(
            select(table).where(table.c.seq > last).order_by(table.c.seq).limit(_VERIFY_CHUNK)
        ).all()
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].seq


def _as_entry(row: Any) -> NewEntry:
    at = row.at if row.at.tzinfo is not None else row.at.replace(tzinfo=UTC)
    return NewEntry(row.entity_kind, row.entity_id, row.action, row.actor, row.note, at, row.ref)


def _journalled(conn: Connection) -> Iterator[tuple[str, NewEntry]]:
    """The rows of the per-entity history tables, as the ledger entries that must journal them."""
    ledger: Any = AlertLedgerEntry.__table__
    for r in conn.execute(select(ledger).order_by(ledger.c.id)):
        ref = f"alert_ledger:{r.id}"
        yield ref, NewEntry("alert", r.alert_id, r.action, r.actor, r.note, r.at, ref)
    history: Any = AgencyRecommendationHistory.__table__
    for r in conn.execute(select(history).order_by(history.c.id)):
        ref = f"agency_recommendation_history:{r.id}"
        yield ref, NewEntry("agency", r.ori, r.state, r.actor, r.reason, r.at, ref)
    incidents: Any = IncidentLedgerEntry.__table__
    for r in conn.execute(select(incidents).order_by(incidents.c.id)):
        ref = f"incident_ledger:{r.id}"
        yield ref, NewEntry("incident", r.incident_id, r.action, r.actor, r.note, r.at, ref)


def verify(engine: Engine, *, expect_head: str | None = None) -> VerifyResult:
    """Recompute the chain; name the first entry whose hash or link is wrong, or the first
    history row (alert ledger, recommendation history) with no matching ledger entry. With
    ``expect_head`` (a head recorded earlier), the chain must also pass through that hash."""
    prev = GENESIS
    count = 0
    seen_expected = expect_head in (None, GENESIS)
    by_ref: dict[str, tuple[int, NewEntry]] = {}
    with engine.connect() as conn:
        for row in _entries(conn):
            count += 1
            entry = _as_entry(row)
            if row.prev_hash != prev:
                return VerifyResult(
                    count,
                    prev,
                    row.seq,
                    f"entry {row.seq} ({entry.entity_kind} {entry.entity_id}, "
                    f"{entry.action} by {entry.actor}): its prev_hash does not match the entry "
                    "before it (an entry was removed, inserted or reordered)",
                )
            if entry_hash(prev, entry) != row.entry_hash:
                return VerifyResult(
                    count,
                    prev,
                    row.seq,
                    f"entry {row.seq} ({entry.entity_kind} {entry.entity_id}, "
                    f"{entry.action} by {entry.actor}): its content does not match its hash "
                    "(the entry was changed)",
                )
            prev = row.entry_hash
            seen_expected = seen_expected or prev == expect_head
            if row.ref is not None:
                by_ref[row.ref] = (row.seq, entry)
        for ref, expected in _journalled(conn):
            found = by_ref.get(ref)
            if found is None:
                return VerifyResult(
                    count,
                    prev,
                    None,
                    f"{ref} ({expected.entity_kind} {expected.entity_id}, "
                    f"{expected.action} by {expected.actor}) has no ledger entry",
                )
            seq, entry = found
            if _when(entry.at) != _when(expected.at) or dataclass_tuple(entry) != dataclass_tuple(expected):
                return VerifyResult(
                    count,
                    prev,
                    seq,
                    f"{ref} differs from its ledger entry {seq} (the history row was changed)",
                )
    if not seen_expected:
        return VerifyResult(
            count,
            prev,
            None,
            f"the chain does not pass through {expect_head}, not the expected "
            "head recorded earlier: the ledger was rewritten or rolled back since",
        )
    return VerifyResult(count, prev)


def dataclass_tuple(e: NewEntry) -> tuple[str, str, str, str, str | None, str | None]:
    return (e.entity_kind, e.entity_id, e.action, e.actor, e.note, e.ref)


# ------------------------------------------------------------------------ database protection


def _pg_trigger_sql(table: str) -> list[str]:
    return [
        (
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION clets_watch_append_only()"
        ),
        (
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION clets_watch_append_only()"
        ),
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC",
    ]


PG_FUNCTION_SQL: Final = """
CREATE OR REPLACE FUNCTION clets_watch_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'clets-watch: % on % is refused: the ledger is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


_SQLITE_CLASHES: Final = {
    "alert_ledger": "EXISTS (SELECT 1 FROM alert_ledger WHERE id = NEW.id OR entry_key = NEW.entry_key)",
    "agency_recommendation_history": "EXISTS (SELECT 1 FROM agency_recommendation_history WHERE id = NEW.id)",
    "ledger_entries": "EXISTS (SELECT 1 FROM ledger_entries WHERE seq = NEW.seq OR entry_hash = NEW.entry_hash "
    "OR ref = NEW.ref)",
    "incident_ledger": "EXISTS (SELECT 1 FROM incident_ledger WHERE id = NEW.id)",
}


def protect_sql(dialect: str, tables: Sequence[str] = LEDGER_TABLES) -> list[str]:
    """The DDL that makes ``tables`` append-only on ``dialect`` (migration 0004: the first ledger tables;
    0005: the incident ledger)."""
    if dialect == "postgresql":
        return [PG_FUNCTION_SQL, *(s for t in tables for s in _pg_trigger_sql(t))]
    if dialect == "sqlite":
        refuse = [
            f"CREATE TRIGGER {t}_no_{op.lower()} BEFORE {op} ON {t} "
            f"BEGIN SELECT RAISE(ABORT, 'clets-watch: {op} on {t} is refused: the ledger is append-only'); END"
            for t in tables
            for op in ("UPDATE", "DELETE")
        ]
        # INSERT OR REPLACE deletes the row it conflicts with without firing DELETE triggers (unless
        # recursive_triggers is on in that connection): refuse any insert over an existing row.
        return refuse + [
            f"CREATE TRIGGER {t}_no_replace BEFORE INSERT ON {t} WHEN {clash} "
            f"BEGIN SELECT RAISE(ABORT, 'clets-watch: REPLACE on {t} is refused: the ledger is append-only'); END"
            for t, clash in _SQLITE_CLASHES.items()
            if t in tables
        ]
    raise LedgerError(f"no append-only triggers for database {dialect!r}")


def unprotect_sql(dialect: str, tables: Sequence[str] = LEDGER_TABLES) -> list[str]:
    """The DDL that removes what ``protect_sql(dialect, tables)`` created (the downgrades of 0004 and 0005;
    the shared PostgreSQL function goes with the first tables)."""
    if dialect == "postgresql":
        drops = [
            f"DROP TRIGGER IF EXISTS {t}_{name} ON {t}"
            for t in tables
            for name in ("append_only", "no_truncate")
        ]
        last = (
            ["DROP FUNCTION IF EXISTS clets_watch_append_only()"]
            if set(tables) >= set(FIRST_LEDGER_TABLES)
            else []
        )
        return [*drops, *last]
    return [f"DROP TRIGGER IF EXISTS {t}_no_{op}" for t in tables for op in ("update", "delete", "replace")]


def app_role_grants_sql(role: str) -> list[str]:
    """GRANTs for a PostgreSQL role the worker and console run as, apart from the schema owner that
    runs migrations: read and append the ledger, never update, delete or truncate it."""
    if not role.replace("_", "").isalnum():
        raise LedgerError(f"role name {role!r}: letters, digits and '_' only")
    others = [t for t in Base.metadata.tables if t not in LEDGER_TABLES]
    stmts = [f"GRANT USAGE ON SCHEMA public TO {role}"]
    stmts += [f"GRANT SELECT, INSERT, UPDATE, DELETE ON {t} TO {role}" for t in others]
    stmts += [f"GRANT SELECT, INSERT ON {t} TO {role}" for t in LEDGER_TABLES]
    stmts += [f"REVOKE UPDATE, DELETE, TRUNCATE ON {t} FROM {role}" for t in LEDGER_TABLES]
    stmts += [
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"GRANT SELECT ON alembic_version TO {role}",
    ]
    return stmts
