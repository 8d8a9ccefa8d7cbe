"""Access decisions outside the core: kept in the database, published on the compacted Kafka topic
``clets.access-decisions`` (key = ORI, so compaction keeps each agency's latest decision), and read
back by the worker (``DecisionReader``) and by replay (``load_decisions``)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import Any, Final

import msgspec
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from schemas import AccessDecision
from sinks.db import insert_for, parse_utc, write_transaction
from sinks.ledger import append_entry, decision_entry
from sinks.models import AccessDecisionRecord

DEFAULT_TOPIC: Final = "clets.access-decisions"
_dec = msgspec.json.Decoder(AccessDecision)
_enc = msgspec.json.Encoder(order="sorted")


class DecisionError(RuntimeError):
    """A decision could not be published or read (the message names the broker or record)."""


def _rfc3339(when: dt.datetime) -> str:
    from processors.access_decisions import effective_text

    return effective_text(when)


def record_decision(engine: Engine, decision: AccessDecision, *, now: dt.datetime | None = None) -> bool:
    """Keep a decision in the database and journal it in the hash-chained ledger (in one transaction;
    ``clets-watch alerts verify`` checks both); False if it was already there."""
    table: Any = AccessDecisionRecord.__table__
    effective_at = parse_utc(decision.effective_at, name="effective_at")
    row = {
        "decision_id": decision.decision_id,
        "ori": decision.ori,
        "action": decision.action,
        "effective_at": effective_at,
        "actor": decision.by,
        "reason": decision.reason,
        "recorded_at": now or dt.datetime.now(dt.UTC),
    }
    with write_transaction(engine) as conn:
        stmt = insert_for(engine, table).on_conflict_do_nothing(index_elements=["decision_id"])
        if not conn.execute(stmt.returning(table.c.decision_id), [row]).all():
            return False
        _ref, entry = decision_entry(
            decision.decision_id, decision.ori, decision.action, decision.by, decision.reason, effective_at
        )
        append_entry(conn, entry)
        return True


def load_decisions(engine: Engine) -> list[AccessDecision]:
    """Every decision in the database, oldest effective first."""
    query = select(AccessDecisionRecord).order_by(
        AccessDecisionRecord.effective_at, AccessDecisionRecord.decision_id
    )
    with Session(engine) as session:
        return [
            AccessDecision(
                decision_id=r.decision_id,
                ori=r.ori,
                action=r.action,  # type: ignore[arg-type]
                effective_at=_rfc3339(r.effective_at),
                by=r.actor,
                reason=r.reason,
            )
            for r in session.scalars(query).all()
        ]


def ensure_topic(
    bootstrap: str, topic: str, security: Mapping[str, Any], *, bootstrap_timeout_ms: int = 30_000
) -> None:
    """Create the decisions topic, compacted (each agency's latest decision is kept for ever).

    Raises ``DecisionError`` naming the broker when it cannot be reached within ``bootstrap_timeout_ms``."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    from clets_watch.kafka_admin import BrokerUnavailable, admin

    try:
        client = admin(bootstrap, security=security, bootstrap_timeout_ms=bootstrap_timeout_ms)
    except BrokerUnavailable as exc:
        raise DecisionError(str(exc)) from None
    try:
        if topic not in set(client.list_topics()):
            try:
                client.create_topics([NewTopic(topic, 1, 1, topic_configs={"cleanup.policy": "compact"})])
            except TopicAlreadyExistsError:
                pass
    finally:
        client.close()


def publish_decision(
    bootstrap: str,
    topic: str,
    decision: AccessDecision,
    security: Mapping[str, Any],
    *,
    topic_ensured: bool = False,
) -> None:
    """Publish ``decision`` on ``topic`` (created first unless the caller already ``ensure_topic``-ed it)."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    if not topic_ensured:
        ensure_topic(bootstrap, topic, security)
    try:
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **security)
        try:
            producer.send(topic, key=decision.ori.encode(), value=_enc.encode(decision)).get(timeout=30)
            producer.flush(timeout=30)
        finally:
            producer.close(timeout=5)
    except KafkaError as exc:
        raise DecisionError(f"cannot publish the decision to {topic} at {bootstrap}: {exc}") from None


class DecisionReader:
    """Reads the whole decisions topic from the beginning, then follows it (no consumer group)."""

    def __init__(self, bootstrap: str, topic: str, security: Mapping[str, Any]) -> None:
        from kafka import KafkaConsumer, TopicPartition

        ensure_topic(bootstrap, topic, security)
        self.topic = topic
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **security,
        )
        parts = self._consumer.partitions_for_topic(topic) or {0}
        self._tps = [TopicPartition(topic, p) for p in sorted(parts)]
        self._consumer.assign(self._tps)
        self._consumer.seek_to_beginning(*self._tps)

    def poll(self, timeout_ms: int = 0) -> list[AccessDecision]:
        out: list[AccessDecision] = []
        for records in self._consumer.poll(timeout_ms=timeout_ms).values():
            for record in records:
                if record.value is None:  # a tombstone: nothing to apply
                    continue
                try:
                    out.append(_dec.decode(record.value))
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    raise DecisionError(
                        f"{self.topic}/{record.partition}/{record.offset} is not an access decision: {exc}"
                    ) from None
        return out

    def catch_up(self, timeout: float = 30.0) -> list[AccessDecision]:
        """Every decision already on the topic (the worker reads them before its first batch)."""
        end = self._consumer.end_offsets(self._tps)
        out: list[AccessDecision] = []
        deadline = time.monotonic() + timeout
        while any(self._consumer.position(tp) < end[tp] for tp in self._tps):
            if time.monotonic() > deadline:
                raise DecisionError(f"could not read {self.topic} to its end within {timeout:g}s")
            out += self.poll(200)
        return out

    def close(self) -> None:
        self._consumer.close()
