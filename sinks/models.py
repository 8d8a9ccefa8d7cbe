"""SQLAlchemy 2.x models of what clets-watch stores.

Nothing here holds PII in clear: operators and subjects appear only as pseudonyms, the free-text
reason and the case number only as flags, dead letters only as a digest and a size.

Every timestamp is timezone-aware UTC in Python. ``UTCDateTime`` stores it as ``timestamptz`` on
PostgreSQL and as naive UTC text on SQLite (which has no time zones), so both sort and compare the
same way and read back as aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

UTC = dt.UTC

# Constraint names are spelled out so that Alembic migrations stay identical on every dialect.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ALERT_STATES = ("fired", "suppressed", "acknowledged", "resolved")
LEDGER_ACTIONS = ALERT_STATES
RECOMMENDATION_STATES = ("normal", "watch", "suspend")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime, stored in UTC; naive datetimes are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: clets-watch stores only timezone-aware times")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class QueryVerdict(Base):
    """One row per processed query event, keyed by its event id."""

    __tablename__ = "query_verdicts"

    event_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(index=True)
    ori: Mapped[str] = mapped_column(String(16), index=True)
    component: Mapped[str | None] = mapped_column(String(64))
    message_type: Mapped[str] = mapped_column(String(32))
    data_source: Mapped[str] = mapped_column(String(64))
    purpose_code: Mapped[str | None] = mapped_column(String(16))
    verdict: Mapped[str] = mapped_column(String(16), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    rules: Mapped[list[Any]] = mapped_column(JSON)
    policy_version: Mapped[str] = mapped_column(String(32))
    operator: Mapped[str] = mapped_column(String(128))  # pseudonym
    subject_key: Mapped[str | None] = mapped_column(String(128))  # pseudonym
    has_reason: Mapped[bool] = mapped_column(Boolean)
    has_case_number: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str | None] = mapped_column(String(256))


class WindowAggregate(Base):
    """Counts for one agency over one closed event-time window; amendments are new revisions."""

    __tablename__ = "window_aggregates"

    ori: Mapped[str] = mapped_column(String(16), primary_key=True)
    window_kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_end: Mapped[dt.datetime]
    total: Mapped[int] = mapped_column(Integer)
    by_verdict: Mapped[dict[str, Any]] = mapped_column(JSON)
    by_purpose: Mapped[dict[str, Any]] = mapped_column(JSON)
    by_data_source: Mapped[dict[str, Any]] = mapped_column(JSON)
    late: Mapped[int] = mapped_column(Integer, default=0)


class AlertRecord(Base):
    """An alert raised by a rule. ``status`` is what the rule said (fired/suppressed); ``state`` is
    where the alert is in its life (fired, suppressed, acknowledged, resolved), kept in step with the
    ledger."""

    __tablename__ = "alerts"

    alert_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    rule_version: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(16))
    ori: Mapped[str] = mapped_column(String(16), index=True)
    component: Mapped[str | None] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(256))
    window_start: Mapped[dt.datetime]
    window_end: Mapped[dt.datetime]
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    suppressed_reason: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    first_seen_at: Mapped[dt.datetime]
    incident_id: Mapped[str | None] = mapped_column(String(64), index=True)  # migration 0005


class IncidentRecord(Base):
    """One incident (processors/incidents.py): ``status`` is what the pipeline says (open/closed);
    ``state`` is where on-call stands (open, acknowledged, resolved), kept in step with its ledger.
    ``record`` is the pipeline's latest Incident record as JSON."""

    __tablename__ = "incidents"

    incident_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ori: Mapped[str] = mapped_column(String(16), index=True)
    component: Mapped[str | None] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    first_window_start: Mapped[dt.datetime] = mapped_column(index=True)
    last_window_end: Mapped[dt.datetime]
    alerts: Mapped[int] = mapped_column(Integer)
    story: Mapped[str] = mapped_column(Text)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    first_seen_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class AccessDecisionRecord(Base):
    """A supervisor's suspend/restore of an agency's direct access (also on clets.access-decisions)."""

    __tablename__ = "access_decisions"

    decision_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ori: Mapped[str] = mapped_column(String(16), index=True)
    action: Mapped[str] = mapped_column(String(16))
    effective_at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime]


class IncidentLedgerEntry(Base):
    """Append-only history of what people did about an incident (each alert's own ledger gets an entry too)."""

    __tablename__ = "incident_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.incident_id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    alerts: Mapped[int] = mapped_column(Integer)  # alerts the action reached
    at: Mapped[dt.datetime]


class AlertLedgerEntry(Base):
    """Append-only history of an alert: every change is a new row, never an update.

    ``entry_key`` makes once-only actions idempotent: ``<alert_id>:fired``, ``<alert_id>:suppressed``
    and ``<alert_id>:resolved`` can exist once each; acknowledgements (NULL key) can repeat.
    """

    __tablename__ = "alert_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.alert_id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime]
    entry_key: Mapped[str | None] = mapped_column(String(160), unique=True)


class DeadLetterRecord(Base):
    """A message the pipeline could not process: reason and digest, never the payload."""

    __tablename__ = "dead_letters"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256(source, payload)
    reason: Mapped[str] = mapped_column(String(64), index=True)
    detail: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(256))
    event_id: Mapped[str | None] = mapped_column(String(256))
    payload_sha256: Mapped[str] = mapped_column(String(64))
    payload_bytes: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime]


class _Recommendation:
    """The columns of a recommendation, current or in the history (beside its ORI)."""

    component: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    alert_ids: Mapped[list[Any]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[dt.datetime]


class AgencyRecommendation(_Recommendation, Base):
    """The current recommendation for one agency (normal, watch, suspend)."""

    __tablename__ = "agency_recommendations"

    ori: Mapped[str] = mapped_column(String(16), primary_key=True)


class AgencyRecommendationHistory(_Recommendation, Base):
    """Every recommendation ever made, append-only."""

    __tablename__ = "agency_recommendation_history"
    __table_args__ = (Index("ix_agency_recommendation_history_ori_at", "ori", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ori: Mapped[str] = mapped_column(String(16))


class DisclosureFiling(Base):
    """An agency's annual misuse disclosure to DOJ for one calendar year."""

    __tablename__ = "disclosure_filings"

    ori: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    filed_at: Mapped[dt.datetime | None]
    investigations_opened: Mapped[int | None] = mapped_column(Integer)
    outcomes: Mapped[str | None] = mapped_column(Text)


class PipelineCheckpoint(Base):
    """The pure core's state for one consumed partition, written in the same transaction as the
    outputs it produced: after a restart the worker resumes from ``next_offset`` with this state,
    so no window is lost or counted twice."""

    __tablename__ = "pipeline_checkpoints"

    consumer_group: Mapped[str] = mapped_column(String(255), primary_key=True)
    topic: Mapped[str] = mapped_column(String(255), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_offset: Mapped[int] = mapped_column(BigInteger, nullable=False)
    state: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    written_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)


TABLES: tuple[str, ...] = tuple(Base.metadata.tables)


# ----------------------------------------------------------------------------- audit runs (sinks/audit.py)
# What `clets-watch replay --record` writes, kept apart from the live tables.


class AuditRun(Base):
    """One audit replay: what went in, under which policy and rules, and what came out (counts)."""

    __tablename__ = "audit_runs"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime]
    policy_version: Mapped[str] = mapped_column(String(32))
    rules_version: Mapped[str] = mapped_column(String(64))
    input_kind: Mapped[str] = mapped_column(String(16))  # "archive" or "kafka"
    input_description: Mapped[str] = mapped_column(Text)
    range_since: Mapped[dt.datetime | None]
    range_until: Mapped[dt.datetime | None]
    first_event_at: Mapped[dt.datetime | None]
    last_event_at: Mapped[dt.datetime | None]
    key_fingerprint: Mapped[str] = mapped_column(String(16))
    counts: Mapped[dict[str, Any]]
    note: Mapped[str | None] = mapped_column(Text)


class AuditAlert(Base):
    """An alert of one audit run; ``alert_json`` is the alert exactly as ``replay --json`` prints it."""

    __tablename__ = "audit_alerts"
    __table_args__ = (Index("ix_audit_alerts_run_id_ori", "run_id", "ori"),)

    run_id: Mapped[str] = mapped_column(ForeignKey("audit_runs.run_id", ondelete="CASCADE"), primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    ori: Mapped[str] = mapped_column(String(16))
    component: Mapped[str | None] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))  # Pacific month of the window start
    window_start: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16))
    alert_json: Mapped[str] = mapped_column(Text)


class AuditVerdictCount(Base):
    """Query counts of one run per (Pacific month, agency, data source, purpose, verdict)."""

    __tablename__ = "audit_verdict_counts"

    run_id: Mapped[str] = mapped_column(ForeignKey("audit_runs.run_id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    ori: Mapped[str] = mapped_column(String(16), primary_key=True)
    data_source: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), primary_key=True)
    verdict: Mapped[str] = mapped_column(String(16), primary_key=True)
    component: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(64))
    queries: Mapped[int] = mapped_column(Integer)


class AuditOperatorFlag(Base):
    """Per operator (pseudonym) of an agency in one run: queries, and how many were flagged."""

    __tablename__ = "audit_operator_flags"

    run_id: Mapped[str] = mapped_column(ForeignKey("audit_runs.run_id", ondelete="CASCADE"), primary_key=True)
    ori: Mapped[str] = mapped_column(String(16), primary_key=True)
    operator: Mapped[str] = mapped_column(String(128), primary_key=True)  # pseudonym
    queries: Mapped[int] = mapped_column(Integer)
    prohibited: Mapped[int] = mapped_column(Integer)
    review: Mapped[int] = mapped_column(Integer)
