"""Console sessions kept server-side; the hash-chained ledger (``ledger_entries``), filled from the
existing alert ledger and recommendation history; UPDATE and DELETE refused on every ledger table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 02:40:00
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from sinks.ledger import FIRST_LEDGER_TABLES, NewEntry, append_entries, protect_sql
    from sinks.models import UTC

    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.Column("credential_stamp", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_console_sessions")),
    )
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_console_sessions_user_name", ["user_name"], unique=False)
    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entity_kind", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=160), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("entry_hash", name=op.f("uq_ledger_entries_entry_hash")),
        sa.UniqueConstraint("ref", name=op.f("uq_ledger_entries_ref")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_entries_entity", ["entity_kind", "entity_id"], unique=False)

    # Journal what the per-entity histories already hold, in time order, so the chain covers them.
    conn = op.get_bind()

    def aware(value: dt.datetime | str) -> dt.datetime:
        if isinstance(value, str):  # SQLite hands back text in a migration's plain SQL
            value = dt.datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    existing: list[tuple[dt.datetime, int, int, NewEntry]] = []
    for r in conn.execute(sa.text("SELECT id, alert_id, action, actor, note, at FROM alert_ledger")):
        at = aware(r.at)
        existing.append(
            (
                at,
                0,
                r.id,
                NewEntry("alert", r.alert_id, r.action, r.actor, r.note, at, f"alert_ledger:{r.id}"),
            )
        )
    for r in conn.execute(
        sa.text("SELECT id, ori, state, actor, reason, at FROM agency_recommendation_history")
    ):
        at = aware(r.at)
        ref = f"agency_recommendation_history:{r.id}"
        existing.append((at, 1, r.id, NewEntry("agency", r.ori, r.state, r.actor, r.reason, at, ref)))
    existing.sort(key=lambda item: item[:3])
    append_entries(conn, [item[3] for item in existing])

    for statement in protect_sql(conn.dialect.name, FIRST_LEDGER_TABLES):
        conn.execute(sa.text(statement))


def downgrade() -> None:
    from sinks.ledger import FIRST_LEDGER_TABLES, unprotect_sql

    conn = op.get_bind()
    for statement in unprotect_sql(conn.dialect.name, FIRST_LEDGER_TABLES):
        conn.execute(sa.text(statement))
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_entries_entity")
    op.drop_table("ledger_entries")
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_console_sessions_user_name")
    op.drop_table("console_sessions")
