"""The clets-watch database: engines, migrations and what the writer and the stores share.

``open_engine(url)`` opens a database (creating a SQLite file owner-only and bringing the schema to the
newest revision unless ``create=False``); one engine is shared by the batch writer (``sinks.writer``)
and the stores (``sinks.alert_store``, ``sinks.recommendations``, ``sinks.disclosures``,
``sinks.incidents``), which never dispose of it. Works on SQLite (the laptop default) and PostgreSQL;
``insert_for`` picks the dialect's ``INSERT … ON CONFLICT``.

Schema changes go through Alembic (``sinks/migrations``); ``upgrade(url)`` runs them in code.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Final, Self, TypeVar

import msgspec
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, create_engine, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from sinks.models import TABLES, UTC, Base, QueryVerdict
from sinks.sessions import ConsoleSession  # noqa: F401 - its table belongs to the schema the migrations build

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SYSTEM_ACTOR = "clets-watch"
_MIGRATION_LOCK_ID = 0x0C1E75  # PostgreSQL advisory lock: one migrator at a time

Clock = Callable[[], dt.datetime]
T = TypeVar("T")


class SinkError(Exception):
    """A database-sink request that cannot be carried out (the message says why)."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def parse_utc(value: str | dt.datetime, *, name: str = "time") -> dt.datetime:
    """An RFC 3339 string (or datetime) with an offset, as an aware UTC datetime."""
    parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"{name} {value!r} has no UTC offset")
    return parsed.astimezone(UTC)


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


# ------------------------------------------------------------------------------------------ engines


def open_engine(url: str, *, create: bool = True) -> Engine:
    """An engine on the clets-watch database at ``url``. ``create``: make a missing SQLite file (0600)
    and bring the schema to the newest revision; otherwise a missing SQLite file is an error."""
    path = sqlite_path(url)
    if path is not None:
        if create:
            create_private_file(path)
        elif not path.exists():
            raise SinkError(f"no database at {path}")
    engine = create_sink_engine(url)
    if engine.dialect.name not in ("sqlite", "postgresql"):
        engine.dispose()
        raise SinkError(f"unsupported database {engine.dialect.name!r}: use SQLite or PostgreSQL")
    if create:
        upgrade(engine)
    return engine


@contextmanager
def database(url: str, *, create: bool = True) -> Iterator[Engine]:
    """``open_engine`` for a ``with`` block: the engine is disposed of at its end."""
    engine = open_engine(url, create=create)
    try:
        yield engine
    finally:
        engine.dispose()


class EngineOwner:
    """Something that opened its own engine: ``close`` (or the end of a ``with`` block) disposes of it."""

    engine: Engine

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def insert_for(engine: Engine | Connection, table: Table) -> Any:
    """The dialect's INSERT (with ``on_conflict_do_nothing``/``on_conflict_do_update``) for ``table``."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def records_as(engine: Engine, query: Any, type_: type[T]) -> list[T]:
    """The ORM records ``query`` selects, converted to ``type_`` by msgspec (field = attribute name)."""
    with Session(engine) as session:
        return [msgspec.convert(r, type_, from_attributes=True) for r in session.scalars(query)]


def entries(engine: Engine, model: Any, type_: type[T], **key: object) -> list[T]:
    """The rows of an append-only table (a ledger or a history, with ``at`` and ``id``) that match
    ``key``, oldest first, as ``type_``."""
    return records_as(engine, select(model).filter_by(**key).order_by(model.at, model.id), type_)


def where_given(query: Any, model: Any, **values: object) -> Any:
    """``query`` keeping the rows whose ``model`` columns equal the values given (None: any value)."""
    for name, value in values.items():
        if value is not None:
            query = query.where(getattr(model, name) == value)
    return query


def count_rows(engine: Engine) -> dict[str, int]:
    """Row count of every clets-watch table."""
    with engine.connect() as conn:
        return {
            name: int(conn.scalar(select(func.count()).select_from(Base.metadata.tables[name])) or 0)
            for name in TABLES
        }


def verdict_counts(engine: Engine) -> dict[str, int]:
    """How many stored verdicts there are of each kind (allowed, review, prohibited)."""
    query = select(QueryVerdict.verdict, func.count()).group_by(QueryVerdict.verdict)
    with engine.connect() as conn:
        return {verdict: int(n) for verdict, n in conn.execute(query).all()}
