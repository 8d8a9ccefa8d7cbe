"""Console sessions, kept server-side so that they can be ended.

The browser holds only an opaque random token; the database holds its SHA-256 (a stolen database
gives no usable cookie), the user, a stamp of the user's credentials and role at login (a changed
password or role ends the session), the CSRF token, a one-shot flash message, and the times that
the idle and absolute timeouts are measured from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import JSON, Engine, Index, String, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from sinks.models import UTC, Base

TOKEN_BYTES: Final = 32


class ConsoleSession(Base):
    """One logged-in console session; deleted at logout, expiry or when ended by command."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_user_name", "user_name"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(64))
    credential_stamp: Mapped[str] = mapped_column(String(64))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass
class SessionRecord:
    id_hash: str
    user_name: str
    credential_stamp: str
    csrf_token: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    data: dict[str, Any] = field(default_factory=dict)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


class SessionStore:
    """Create, look up, touch and end console sessions in the database."""

    def __init__(
        self,
        engine: Engine,
        *,
        idle: dt.timedelta,
        absolute: dt.timedelta,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        if idle <= dt.timedelta(0) or absolute <= dt.timedelta(0):
            raise ValueError("session timeouts must be positive")
        self.engine = engine
        self.idle = idle
        self.absolute = absolute
        self.clock = clock
        self.touch_every = min(dt.timedelta(seconds=30), idle / 10)

    def create(self, user_name: str, credential_stamp: str) -> tuple[str, SessionRecord]:
        """A new session; returns the token for the cookie (never stored) and the record."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self.clock()
        rec = SessionRecord(
            token_hash(token), user_name, credential_stamp, secrets.token_urlsafe(32), now, now, {}
        )
        with self.engine.begin() as conn:
            table: Any = ConsoleSession.__table__
            conn.execute(table.insert(), rec.__dict__)
        return token, rec

    def expired(self, rec: SessionRecord, now: dt.datetime | None = None) -> bool:
        now = now or self.clock()
        return now - rec.last_seen_at > self.idle or now - rec.created_at > self.absolute

    def get(self, token: str) -> SessionRecord | None:
        """The live session for ``token``; an expired one is deleted and None returned."""
        if not token or len(token) > 256:
            return None
        table: Any = ConsoleSession.__table__
        key = token_hash(token)
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.id_hash == key)).first()
        if row is None:
            return None
        rec = SessionRecord(**row._mapping)
        now = self.clock()
        if self.expired(rec, now):
            self.end(rec.id_hash)
            return None
        return rec

    def save(self, rec: SessionRecord, *, data_changed: bool) -> None:
        """Record activity (at most every ``touch_every``) and changed session data."""
        now = self.clock()
        values: dict[str, Any] = {}
        if now - rec.last_seen_at >= self.touch_every:
            values["last_seen_at"] = now
        if data_changed:
            values["data"] = rec.data
        if values:
            table: Any = ConsoleSession.__table__
            with self.engine.begin() as conn:
                conn.execute(update(table).where(table.c.id_hash == rec.id_hash).values(**values))

    def end(self, id_hash: str) -> None:
        table: Any = ConsoleSession.__table__
        with self.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.id_hash == id_hash))

    def end_user(self, user_name: str) -> int:
        """End every session of ``user_name``; returns how many there were."""
        table: Any = ConsoleSession.__table__
        with self.engine.begin() as conn:
            return int(conn.execute(delete(table).where(table.c.user_name == user_name)).rowcount or 0)

    def purge_expired(self) -> int:
        """Delete sessions past their idle or absolute timeout; returns how many."""
        now = self.clock()
        table: Any = ConsoleSession.__table__
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(table).where(
                    (table.c.last_seen_at < now - self.idle) | (table.c.created_at < now - self.absolute)
                )
            )
            return int(result.rowcount or 0)

    def count(self, user_name: str | None = None) -> int:
        table: Any = ConsoleSession.__table__
        query = select(table.c.id_hash)
        if user_name is not None:
            query = query.where(table.c.user_name == user_name)
        with self.engine.connect() as conn:
            return len(conn.execute(query).all())
