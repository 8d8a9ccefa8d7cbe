"""Access decisions join the hash-chained ledger: journal the decisions recorded before this revision.

From now on ``sinks.access_decisions.record_decision`` appends an entry (kind ``access``, ref
``access_decisions:<decision_id>``) in the same transaction as the row, and ``clets-watch alerts verify``
checks both directions; this migration journals the rows written before it, oldest recorded first, so
that an existing database still verifies. No table changes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 06:00:00
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from sinks.ledger import append_entries, decision_entry
    from sinks.models import UTC

    def aware(value: dt.datetime | str) -> dt.datetime:
        if isinstance(value, str):  # SQLite hands back text in a migration's plain SQL
            value = dt.datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    conn = op.get_bind()
    rows = list(
        conn.execute(
            sa.text(
                "SELECT decision_id, ori, action, actor, reason, effective_at, recorded_at FROM access_decisions "
                "WHERE 'access_decisions:' || decision_id NOT IN "
                "(SELECT ref FROM ledger_entries WHERE ref IS NOT NULL)"
            )
        )
    )
    rows.sort(key=lambda r: (aware(r.recorded_at), r.decision_id))
    append_entries(
        conn,
        [
            decision_entry(r.decision_id, r.ori, r.action, r.actor, r.reason, aware(r.effective_at))[1]
            for r in rows
        ],
    )


def downgrade() -> None:
    """Nothing to undo: the ledger is append-only, and the entries stay valid links of the chain."""
