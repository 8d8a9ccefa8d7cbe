"""``clets-watch dead-letter list|replay``: inspect the dead-letter topic and re-drive it after a fix.

Each dead-letter message carries the reason, the detail, where the message came from and the raw
payload (base64 when it was not UTF-8). ``list`` shows them without payloads unless asked (a
payload can hold a subject's identifiers in clear, as the input topic does); ``replay`` sends the
payloads back to the queries topic — by default only those that now decode — so a fixed producer
or a new schema version can be caught up without losing anything.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from clets_watch.commands.options import Subcommands, add_bootstrap, add_command, add_json
from clets_watch.errors import UserError
from clets_watch.kafka_security import kafka_client_kwargs
from clets_watch.settings import Settings

# Dead letters of events that were processed (counted, classified) all the same: never re-driven by default.
PROCESSED_REASONS = frozenset({"late", "conflicting_duplicate"})


@dataclass(frozen=True)
class DeadLetterRecord:
    partition: int
    offset: int
    reason: str
    detail: str
    source: str | None
    event_id: str | None
    payload: bytes

    def as_json(self, *, with_payload: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "partition": self.partition,
            "offset": self.offset,
            "reason": self.reason,
            "detail": self.detail,
            "source": self.source,
            "event_id": self.event_id,
            "payload_bytes": len(self.payload),
        }
        if with_payload:
            try:
                out["payload"] = self.payload.decode("utf-8")
            except UnicodeDecodeError:
                out["payload_base64"] = base64.b64encode(self.payload).decode()
        return out


def parse_dead_letter(partition: int, offset: int, value: bytes) -> DeadLetterRecord:
    try:
        msg = json.loads(value)
        if msg.get("payload") is not None:
            payload = str(msg["payload"]).encode("utf-8", "surrogatepass")
        else:
            payload = base64.b64decode(msg.get("payload_base64") or "")
        return DeadLetterRecord(
            partition,
            offset,
            str(msg.get("reason")),
            str(msg.get("detail", "")),
            msg.get("source"),
            msg.get("event_id"),
            payload,
        )
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        return DeadLetterRecord(
            partition, offset, "unreadable", f"not a dead-letter record: {exc}", None, None, value
        )


def read_dead_letters(bootstrap: str, topic: str, *, timeout_ms: int = 5000) -> Iterator[DeadLetterRecord]:
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    try:
        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            **kafka_client_kwargs(),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
            consumer_timeout_ms=timeout_ms,
            client_id="clets-watch-dead-letter",
        )
    except KafkaError:
        raise UserError(f"no Kafka broker at {bootstrap}: run `clets-watch stack up`") from None
    try:
        for msg in consumer:
            yield parse_dead_letter(msg.partition, msg.offset, msg.value)
    finally:
        consumer.close()


def register(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "dead-letter",
        run=None,
        help="inspect the dead-letter topic, and re-drive its messages after a fix",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_bootstrap(p)
    p.add_argument(
        "--topic", help="dead-letter topic (default: CLETS_WATCH_TOPIC_DEAD_LETTER, clets.dead-letter)"
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = add_command(actions, "list", run=run_list, help="list dead-lettered messages (newest last)")
    ls.add_argument("--reason", action="append", help="only this reason (repeatable)")
    ls.add_argument("--limit", type=int, default=50, help="show at most N (default 50; 0 = all)")
    ls.add_argument("--show-payload", action="store_true", help="include the raw payloads (may hold PII)")
    add_json(ls, "one message per line")
    rp = add_command(
        actions, "replay", run=run_replay, help="send dead-lettered payloads back to the queries topic"
    )
    rp.add_argument(
        "--reason",
        action="append",
        help="only this reason (repeatable; default: every reason but `late` and `conflicting_duplicate`: those events were processed already)",
    )
    rp.add_argument("--to-topic", help="where to send them (default: CLETS_WATCH_TOPIC_QUERIES)")
    rp.add_argument("--from-offset", type=int, default=0, help="skip dead letters before this offset")
    rp.add_argument(
        "--all", action="store_true", help="send every payload, even those that still do not decode"
    )
    rp.add_argument("--dry-run", action="store_true", help="say what would be sent; send nothing")
    add_json(rp, "one summary line")


def _settings(args: argparse.Namespace) -> tuple[Settings, str, str]:
    settings = Settings()
    return settings, args.bootstrap or settings.kafka_bootstrap, args.topic or settings.topic_dead_letter


def run_list(args: argparse.Namespace) -> int:
    _, bootstrap, topic = _settings(args)
    if args.limit < 0:
        raise UserError("--limit must be >= 0")
    wanted = set(args.reason or [])
    records = [r for r in read_dead_letters(bootstrap, topic) if not wanted or r.reason in wanted]
    shown = records[-args.limit :] if args.limit else records
    if args.json:
        for r in shown:
            print(json.dumps(r.as_json(with_payload=args.show_payload)))
        return 0
    counts = Counter(r.reason for r in records)
    print(
        f"{len(records)} dead letter(s) in {topic}: "
        + (", ".join(f"{k} {n}" for k, n in counts.most_common()) or "none")
    )
    for r in shown:
        print(f"  {r.partition}/{r.offset:<8} {r.reason:<22} {r.source or '-':<28} {r.detail[:90]}")
        if args.show_payload:
            print(f"      payload: {r.payload[:300]!r}")
    if len(shown) < len(records):
        print(f"  ... {len(records) - len(shown)} older ones not shown (--limit 0 shows all)")
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from schemas import InvalidEvent, decode_event

    settings, bootstrap, topic = _settings(args)
    target = args.to_topic or settings.topic_queries
    wanted = set(args.reason or [])
    send: list[DeadLetterRecord] = []
    still_bad: Counter[str] = Counter()
    for r in read_dead_letters(bootstrap, topic):
        if r.offset < args.from_offset or (wanted and r.reason not in wanted):
            continue
        if (
            not wanted and r.reason in PROCESSED_REASONS
        ):  # processed already: re-driving would count them twice
            continue
        if not args.all:
            try:
                decode_event(r.payload)
            except InvalidEvent as exc:
                still_bad[exc.reason] += 1
                continue
        send.append(r)
    if send and not args.dry_run:
        from kafka import KafkaProducer

        producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            client_id="clets-watch-redrive",
            **kafka_client_kwargs(settings),
        )
        try:
            for r in send:
                key = None
                try:
                    key = str(json.loads(r.payload).get("ori") or "").encode() or None
                except (ValueError, AttributeError, RecursionError):
                    pass
                producer.send(target, key=key, value=r.payload)
            producer.flush(timeout=60)
        finally:
            producer.close()
    summary = {
        "topic": topic,
        "to_topic": target,
        "sent": 0 if args.dry_run else len(send),
        "would_send": len(send) if args.dry_run else None,
        "still_bad": dict(still_bad),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        verb = "would send" if args.dry_run else "sent"
        print(f"{verb} {len(send)} message(s) from {topic} to {target}", file=sys.stdout)
        if still_bad:
            print(
                "left alone (still bad input): " + ", ".join(f"{k} {n}" for k, n in still_bad.most_common())
            )
    return 0
