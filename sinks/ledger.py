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

from sinks.models import (
    UTC,
    AccessDecisionRecord,
    AgencyRecommendation,
    AgencyRecommendationHistory,
    AlertLedgerEntry,
    AlertRecord,
    Base,
    IncidentLedgerEntry,
    IncidentRecord,
)

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
        try:
            chunk = conn.execute(
                select(table).where(table.c.seq > last).order_by(table.c.seq).limit(_VERIFY_CHUNK)
            ).all()
        except _UNREADABLE:
            yield from _one_by_one(conn, last)  # up to the unreadable row, which it raises as _BadRow
            return
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].seq


#: what reading a row written behind the ledger's back raises (a time that is not a time, a NULL where a
#: value must be, a JSON column that is not JSON)
_UNREADABLE: Final = (ValueError, TypeError, AttributeError, KeyError)


class _BadRow(Exception):
    """A row ``verify`` cannot read: reported as broken, never a traceback."""

    def __init__(self, seq: int | None, exc: BaseException) -> None:
        super().__init__(f"{type(exc).__name__}: {exc}")
        self.seq = seq


def _one_by_one(conn: Connection, after: int) -> Iterator[Any]:
    """The entries after ``after`` read one at a time (a chunk holding an unreadable row failed as a
    whole): the readable ones, then ``_BadRow`` for the first that is not."""
    table: Any = LedgerEntry.__table__
    for seq in conn.scalars(select(table.c.seq).where(table.c.seq > after).order_by(table.c.seq)).all():
        try:
            row = conn.execute(select(table).where(table.c.seq == seq)).one()
        except _UNREADABLE as exc:
            raise _BadRow(int(seq), exc) from None
        yield row


#: the text columns of an entry, and whether they may be NULL
_TEXT_COLUMNS: Final = (
    ("entity_kind", False),
    ("entity_id", False),
    ("action", False),
    ("actor", False),
    ("note", True),
    ("ref", True),
    ("prev_hash", False),
    ("entry_hash", False),
)


def _as_entry(row: Any) -> NewEntry:
    try:
        at = row.at if row.at.tzinfo is not None else row.at.replace(tzinfo=UTC)
    except _UNREADABLE as exc:
        raise _BadRow(row.seq, exc) from None
    for column, nullable in _TEXT_COLUMNS:  # SQLite stores a BLOB or a number in a text column as given
        value = getattr(row, column)
        if not isinstance(value, str) and not (nullable and value is None):
            raise _BadRow(row.seq, TypeError(f"{column} holds {type(value).__name__}, not text"))
    return NewEntry(row.entity_kind, row.entity_id, row.action, row.actor, row.note, at, row.ref)


def _journalled(conn: Connection) -> Iterator[tuple[str, NewEntry]]:
    """The rows of the per-entity history tables (and the access decisions), as the ledger entries that
    must journal them."""
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
    decisions: Any = AccessDecisionRecord.__table__
    for r in conn.execute(select(decisions).order_by(decisions.c.decision_id)):
        yield decision_entry(r.decision_id, r.ori, r.action, r.actor, r.reason, r.effective_at)


def decision_entry(
    decision_id: str, ori: str, action: str, actor: str, reason: str, effective_at: dt.datetime
) -> tuple[str, NewEntry]:
    """The ledger entry that journals an access decision (``sinks.access_decisions.record_decision``): the
    agency, suspend or restore, who, why, and the time it takes effect."""
    ref = f"access_decisions:{decision_id}"
    return ref, NewEntry("access", ori, action, actor, reason, effective_at, ref)


@dataclass
class _Seen:
    """What the chain says, for the cross-checks against the tables' current state."""

    by_ref: dict[str, tuple[int, NewEntry]]
    #: alert id -> (its pipeline actions, its last human action (acknowledged/resolved) or None)
    alerts: dict[str, tuple[set[str], str | None]]
    #: incident id -> its last on-call action
    incidents: dict[str, str]

    def add(self, seq: int, entry: NewEntry) -> None:
        if entry.ref is not None:
            self.by_ref[entry.ref] = (seq, entry)
        if entry.entity_kind == "alert":
            pipeline, human = self.alerts.get(entry.entity_id, (set(), None))
            if entry.action in _HUMAN_ALERT_ACTIONS:
                human = entry.action
            else:
                pipeline.add(entry.action)
            self.alerts[entry.entity_id] = (pipeline, human)
        elif entry.entity_kind == "incident":
            self.incidents[entry.entity_id] = entry.action


_HUMAN_ALERT_ACTIONS: Final = frozenset({"acknowledged", "resolved"})


def verify(engine: Engine, *, expect_head: str | None = None) -> VerifyResult:
    """Recompute the chain; name the first entry whose hash or link is wrong, a row that cannot be read,
    a history row (alert ledger, incident ledger, recommendation history, access decision) with no
    matching ledger entry or an entry whose row is gone, and an alert, incident or recommendation whose
    current state is not what its ledger says. With ``expect_head`` (a head recorded earlier), the chain
    must also pass through that hash."""
    prev = GENESIS
    count = 0
    seen_expected = expect_head in (None, GENESIS)
    seen = _Seen({}, {}, {})
    with engine.connect() as conn:
        try:
            for row in _entries(conn):
                entry = _as_entry(row)
                count += 1
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
                seen.add(row.seq, entry)
        except _BadRow as exc:
            where = f"entry {exc.seq}" if exc.seq is not None else "an entry"
            return VerifyResult(
                count,
                prev,
                exc.seq,
                f"{where} cannot be read ({exc}): a row was written behind the ledger's back",
            )
        try:
            problem = _check_history(conn, seen) or _check_state(conn, seen)
        except _UNREADABLE as exc:
            problem = (
                None,
                (
                    f"a history or state row cannot be read ({type(exc).__name__}: {exc}): "
                    "a row was written behind the ledger's back"
                ),
            )
        if problem is not None:
            return VerifyResult(count, prev, problem[0], problem[1])
    if not seen_expected:
        return VerifyResult(
            count,
            prev,
            None,
            f"the chain does not pass through {expect_head}, not the expected "
            "head recorded earlier: the ledger was rewritten or rolled back since",
        )
    return VerifyResult(count, prev)


_Problem = tuple[int | None, str] | None


def _check_history(conn: Connection, seen: _Seen) -> _Problem:
    """Both directions: every history row has its ledger entry with the same content, and every entry's
    ``ref`` still points at a row."""
    matched: set[str] = set()
    for ref, expected in _journalled(conn):
        found = seen.by_ref.get(ref)
        if found is None:
            return (
                None,
                (
                    f"{ref} ({expected.entity_kind} {expected.entity_id}, "
                    f"{expected.action} by {expected.actor}) has no ledger entry"
                ),
            )
        seq, entry = found
        if _when(entry.at) != _when(expected.at) or dataclass_tuple(entry) != dataclass_tuple(expected):
            return seq, f"{ref} differs from its ledger entry {seq} (the history row was changed)"
        matched.add(ref)
    for ref, (seq, entry) in sorted(seen.by_ref.items(), key=lambda item: item[1][0]):
        if ref not in matched:
            return (
                seq,
                (
                    f"entry {seq} ({entry.entity_kind} {entry.entity_id}, {entry.action} by {entry.actor}) "
                    f"journals {ref}, which is no longer there (the history row was removed)"
                ),
            )
    return None


def _check_state(conn: Connection, seen: _Seen) -> _Problem:
    """The current state of alerts, incidents and recommendations against what the chain says."""
    alerts: Any = AlertRecord.__table__
    present: set[str] = set()
    for alert_id, state in conn.execute(
        select(alerts.c.alert_id, alerts.c.state).order_by(alerts.c.alert_id)
    ):
        present.add(alert_id)
        pipeline, human = seen.alerts.get(alert_id, (set(), None))
        if not pipeline:
            return None, f"alert {alert_id} has no fired or suppressed entry in the ledger (added behind it)"
        fine = state == human if human is not None else state in pipeline
        if not fine:
            says = human or " or ".join(sorted(pipeline))
            return None, f"alert {alert_id} is {state!r} but its ledger says {says!r} (the alert was changed)"
    for alert_id in seen.alerts:
        if alert_id not in present:
            return None, f"the ledger has entries for alert {alert_id}, which is no longer there (removed)"
    incidents: Any = IncidentRecord.__table__
    for incident_id, state in conn.execute(
        select(incidents.c.incident_id, incidents.c.state).order_by(incidents.c.incident_id)
    ):
        last = seen.incidents.get(incident_id)
        # an incident's state is its last on-call action; a resolved one re-opens when new alerts come
        fine = state == last or (state == "open" and last in (None, "resolved"))
        if not fine:
            says = last or "open (no action)"
            return (
                None,
                f"incident {incident_id} is {state!r} but its ledger says {says!r} (the incident was changed)",
            )
    return _check_recommendations(conn)


def _check_recommendations(conn: Connection) -> _Problem:
    """Each agency's current recommendation is the last entry of its (journalled) history."""
    history: Any = AgencyRecommendationHistory.__table__
    last: dict[str, tuple[str, str, str]] = {}
    for r in conn.execute(select(history).order_by(history.c.id)):
        last[r.ori] = (r.state, r.reason, r.actor)
    current: Any = AgencyRecommendation.__table__
    now: dict[str, tuple[str, str, str]] = {
        r.ori: (r.state, r.reason, r.actor) for r in conn.execute(select(current))
    }
    for ori in sorted(set(last) | set(now)):
        if last.get(ori) != now.get(ori):
            return (
                None,
                (
                    f"agency {ori}'s recommendation is {_rec(now.get(ori))} but its history says "
                    f"{_rec(last.get(ori))} (the recommendation was changed)"
                ),
            )
    return None


def _rec(value: tuple[str, str, str] | None) -> str:
    return "none" if value is None else f"{value[0]!r} by {value[2]}"


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
