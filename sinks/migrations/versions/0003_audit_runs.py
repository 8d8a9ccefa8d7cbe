"""Audit runs: replays recorded apart from the live tables (run, alerts, verdict counts, operator flags).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 17:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _run_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["run_id"], ["audit_runs.run_id"], name=op.f(f"fk_{table}_run_id_audit_runs"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "audit_runs",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.String(length=32), nullable=False),
        sa.Column("rules_version", sa.String(length=64), nullable=False),
        sa.Column("input_kind", sa.String(length=16), nullable=False),
        sa.Column("input_description", sa.Text(), nullable=False),
        sa.Column("range_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("range_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("key_fingerprint", sa.String(length=16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_audit_runs")),
    )
    op.create_table(
        "audit_alerts",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=128), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("ori", sa.String(length=16), nullable=False),
        sa.Column("component", sa.String(length=64), nullable=True),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("alert_json", sa.Text(), nullable=False),
        _run_fk("audit_alerts"),
        sa.PrimaryKeyConstraint("run_id", "alert_id", name=op.f("pk_audit_alerts")),
    )
    with op.batch_alter_table("audit_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_audit_alerts_run_id_ori", ["run_id", "ori"], unique=False)
    op.create_table(
        "audit_operator_flags",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("ori", sa.String(length=16), nullable=False),
        sa.Column("operator", sa.String(length=128), nullable=False),
        sa.Column("queries", sa.Integer(), nullable=False),
        sa.Column("prohibited", sa.Integer(), nullable=False),
        sa.Column("review", sa.Integer(), nullable=False),
        _run_fk("audit_operator_flags"),
        sa.PrimaryKeyConstraint("run_id", "ori", "operator", name=op.f("pk_audit_operator_flags")),
    )
    op.create_table(
        "audit_verdict_counts",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("ori", sa.String(length=16), nullable=False),
        sa.Column("data_source", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("component", sa.String(length=64), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("queries", sa.Integer(), nullable=False),
        _run_fk("audit_verdict_counts"),
        sa.PrimaryKeyConstraint(
            "run_id",
            "month",
            "ori",
            "data_source",
            "purpose",
            "verdict",
            name=op.f("pk_audit_verdict_counts"),
        ),
    )


def downgrade() -> None:
    op.drop_table("audit_verdict_counts")
    op.drop_table("audit_operator_flags")
    with op.batch_alter_table("audit_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_alerts_run_id_ori")
    op.drop_table("audit_alerts")
    op.drop_table("audit_runs")
