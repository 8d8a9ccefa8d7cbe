"""Incidents: the incidents table, its append-only ledger, each alert's incident id; access decisions.

Revision ID: 0005
Revises: 0003 (another branch adds 0004; the merge re-chains this one after it)
Create Date: 2026-12-01 03:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("ori", sa.String(length=16), nullable=False),
        sa.Column("component", sa.String(length=64), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("first_window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("alerts", sa.Integer(), nullable=False),
        sa.Column("story", sa.Text(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incidents")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_ori"), ["ori"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_state"), ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_incidents_first_window_start"), ["first_window_start"], unique=False
        )

    op.create_table(
        "incident_ledger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("alerts", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.incident_id"], name=op.f("fk_incident_ledger_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_ledger")),
    )
    with op.batch_alter_table("incident_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_ledger_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "access_decisions",
        sa.Column("decision_id", sa.String(length=64), nullable=False),
        sa.Column("ori", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_access_decisions")),
    )
    with op.batch_alter_table("access_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_decisions_ori"), ["ori"], unique=False)

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incident_id", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_alerts_incident_id"), ["incident_id"], unique=False)

    # the incident ledger is append-only like the alert ledger (its entries join the hash chain, sinks/ledger.py)
    from sinks.ledger import INCIDENT_TABLES, protect_sql

    conn = op.get_bind()
    for statement in protect_sql(conn.dialect.name, INCIDENT_TABLES):
        conn.execute(sa.text(statement))


def downgrade() -> None:
    from sinks.ledger import INCIDENT_TABLES, unprotect_sql

    conn = op.get_bind()
    for statement in unprotect_sql(conn.dialect.name, INCIDENT_TABLES):
        conn.execute(sa.text(statement))
    with op.batch_alter_table("access_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_decisions_ori"))
    op.drop_table("access_decisions")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_incident_id"))
        batch_op.drop_column("incident_id")
    with op.batch_alter_table("incident_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_ledger_incident_id"))
    op.drop_table("incident_ledger")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_first_window_start"))
        batch_op.drop_index(batch_op.f("ix_incidents_state"))
        batch_op.drop_index(batch_op.f("ix_incidents_ori"))
    op.drop_table("incidents")
