"""Initial schema: verdicts, window aggregates, alerts and their ledger, dead letters,
agency recommendations and disclosure filings.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 16:56:17.111717
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# This revision's own helpers: like the rest of it they are history, frozen with it. A later schema change
# is a new revision, never an edit here.


def _recommendation_columns() -> list[sa.Column[object]]:
    """The columns an agency's current recommendation and each entry of its history share."""
    return [
        sa.Column("component", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("alert_ids", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    ]


def _create_indexes(table: str, *columns: str) -> None:
    """One non-unique index ``ix_<table>_<column>`` per column."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def _drop_indexes(table: str, *columns: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))


def upgrade() -> None:
    op.create_table(
        "agency_recommendation_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ori", sa.String(length=16), nullable=False),
        *_recommendation_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_recommendation_history")),
    )
    with op.batch_alter_table("agency_recommendation_history", schema=None) as batch_op:
        batch_op.create_index("ix_agency_recommendation_history_ori_at", ["ori", "at"], unique=False)

    op.create_table(
        "agency_recommendations",
        sa.Column("ori", sa.String(length=16), nullable=False),
        *_recommendation_columns(),
        sa.PrimaryKeyConstraint("ori", name=op.f("pk_agency_recommendations")),
    )
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(length=128), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("ori", sa.String(length=16), nullable=False),
        sa.Column("component", sa.String(length=64), nullable=True),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("suppressed_reason", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_alerts")),
    )
    _create_indexes("alerts", "ori", "rule", "state")

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=256), nullable=True),
        sa.Column("event_id", sa.String(length=256), nullable=True),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("payload_bytes", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    _create_indexes("dead_letters", "reason")

    op.create_table(
        "disclosure_filings",
        sa.Column("ori", sa.String(length=16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("investigations_opened", sa.Integer(), nullable=True),
        sa.Column("outcomes", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("ori", "year", name=op.f("pk_disclosure_filings")),
    )
    op.create_table(
        "query_verdicts",
        sa.Column("event_id", sa.String(length=256), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ori", sa.String(length=16), nullable=False),
        sa.Column("component", sa.String(length=64), nullable=True),
        sa.Column("message_type", sa.String(length=32), nullable=False),
        sa.Column("data_source", sa.String(length=64), nullable=False),
        sa.Column("purpose_code", sa.String(length=16), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("policy_version", sa.String(length=32), nullable=False),
        sa.Column("operator", sa.String(length=128), nullable=False),
        sa.Column("subject_key", sa.String(length=128), nullable=True),
        sa.Column("has_reason", sa.Boolean(), nullable=False),
        sa.Column("has_case_number", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_query_verdicts")),
    )
    _create_indexes("query_verdicts", "occurred_at", "ori", "verdict")

    op.create_table(
        "window_aggregates",
        sa.Column("ori", sa.String(length=16), nullable=False),
        sa.Column("window_kind", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("by_verdict", sa.JSON(), nullable=False),
        sa.Column("by_purpose", sa.JSON(), nullable=False),
        sa.Column("by_data_source", sa.JSON(), nullable=False),
        sa.Column("late", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "ori", "window_kind", "window_start", "revision", name=op.f("pk_window_aggregates")
        ),
    )
    op.create_table(
        "alert_ledger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry_key", sa.String(length=160), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.alert_id"], name=op.f("fk_alert_ledger_alert_id_alerts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_ledger")),
        sa.UniqueConstraint("entry_key", name=op.f("uq_alert_ledger_entry_key")),
    )
    _create_indexes("alert_ledger", "alert_id")


def downgrade() -> None:
    _drop_indexes("alert_ledger", "alert_id")

    op.drop_table("alert_ledger")
    op.drop_table("window_aggregates")
    _drop_indexes("query_verdicts", "verdict", "ori", "occurred_at")

    op.drop_table("query_verdicts")
    op.drop_table("disclosure_filings")
    _drop_indexes("dead_letters", "reason")

    op.drop_table("dead_letters")
    _drop_indexes("alerts", "state", "rule", "ori")

    op.drop_table("alerts")
    op.drop_table("agency_recommendations")
    with op.batch_alter_table("agency_recommendation_history", schema=None) as batch_op:
        batch_op.drop_index("ix_agency_recommendation_history_ori_at")

    op.drop_table("agency_recommendation_history")
