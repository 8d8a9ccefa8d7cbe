"""``clets-watch demo``: the whole pipeline once, on the embedded defaults.

Brings up Kafka (reusing a running one), creates the topics, produces an hour of simulated
CLETS traffic in event time with an immigration raid in it (plus three malformed messages, to
show the dead-letter path), runs the live worker until the stream is consumed, prints what it
found, and stops what it started. Deterministic: the same seed gives the same events and the
same alert ids, so a second run adds nothing new to the database: when the database already holds this
demo's events (same seed and start), it does not produce them again (they would only come back as
``late`` dead letters, older than the worker's duplicate memory).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from clets_watch.commands.options import Subcommands, add_command, add_json, parse_time_with_offset
from clets_watch.kafka_security import kafka_client_kwargs
from clets_watch.settings import Settings, masked_url

DEMO_START = "2019-06-12T05:00:00-07:00"
# What on-call reads first: the raid pattern, then immigration-purpose traffic, then single queries.
RULE_ORDER = (
    "dmv_by_dhs_surge",
    "immigration_share",
    "prohibited_query",
    "repeat_subject",
    "cardinality",
    "after_hours_burst",
    "missing_justification",
    "flatline",
    "new_term",
)
MAX_ROWS = 14
MALFORMED: tuple[bytes, ...] = (
    b'{"schema_version": 1, "event_id": "demo-bad-1", "occurred_at": "2019-06-12T05:10:00-07:00"',
    b'{"schema_version": 7, "event_id": "demo-bad-2"}',
    (
        b'{"schema_version": 1, "event_id": "demo-bad-3", "occurred_at": "2019-06-12T05:10:00-07:00", '
        b'"ori": "not-an-ori", "operator_id": "x", "terminal_id": "t", "message_type": "DQ", "reason": ""}'
    ),
)


def register(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "demo",
        run=run,
        help="run the whole pipeline once on the embedded defaults and print what it found",
        description=(
            "Start Kafka if it is not running, produce an hour of simulated CLETS traffic with an "
            "immigration raid, run the live worker until the stream is consumed, print verdicts and "
            "alerts, then stop what the demo started. The database is the SQLite file under "
            ".clets-watch/ (or CLETS_WATCH_DB_URL)."
        ),
    )
    p.add_argument("--seed", type=int, default=2019, help="simulator seed (default 2019)")
    p.add_argument("--minutes", type=float, default=60.0, help="minutes of event time (default 60)")
    p.add_argument(
        "--rate", type=float, default=4.0, help="background events per second of event time (default 4)"
    )
    p.add_argument(
        "--start", default=DEMO_START, help=f"event time of the first query (default {DEMO_START})"
    )
    p.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for the worker (default 120)"
    )
    p.add_argument("--keep-stack", action="store_true", help="leave Kafka running afterwards")
    add_json(p, "one summary line")


def _say(msg: str, *, quiet: bool) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from clets_watch.cli import UserError
    from clets_watch.kafka_admin import end_offsets, ensure_topics, group_lag
    from clets_watch.stack import Stack, StackConfig, StackError
    from producers.kafka_out import produce
    from producers.scenarios import ScenarioError
    from producers.simulator import generate

    settings = Settings()
    quiet = args.json
    start = parse_time_with_offset(args.start, "--start", kind="an ISO 8601 time", example=DEMO_START)

    stack = Stack(StackConfig(home=settings.home / "stack"))
    started_kafka = False
    bootstrap_port = int(settings.kafka_bootstrap.rsplit(":", 1)[1])
    if not any(s.running for s in stack.status(["kafka"])):
        if bootstrap_port != stack.config.kafka_port:
            raise UserError(f"no Kafka broker at {settings.kafka_bootstrap}")
        _say("starting Kafka (KRaft, single node) on 127.0.0.1:9092 ...", quiet=quiet)
        try:
            stack.up(["kafka"])
        except StackError as exc:
            raise UserError(str(exc)) from None
        started_kafka = True
    else:
        _say(f"reusing the Kafka broker at {settings.kafka_bootstrap}", quiet=quiet)
    worker: subprocess.Popen[bytes] | None = None
    try:
        ensure_topics(
            settings.kafka_bootstrap,
            [settings.topic_queries, settings.topic_dead_letter, settings.topic_alerts],
            partitions=settings.topic_partitions,
        )
        try:
            items = list(
                generate(
                    seed=args.seed,
                    start=start,
                    duration=dt.timedelta(minutes=args.minutes),
                    rate_per_second=args.rate,
                    scenarios=["raid"],
                )
            )
        except ScenarioError as exc:
            raise UserError(str(exc)) from None
        truth = Counter(str(item.truth.get("verdict")) for item in items)
        offsets_before = end_offsets(settings.kafka_bootstrap, settings.topic_queries)
        if already_recorded(settings, items):
            # Producing the same hour again would only add dead letters: its events are behind the worker's
            # watermark and older than the duplicate memory (CLETS_WATCH_AMENDMENT_RETENTION_SECONDS), so they
            # would come back as `late`, and the malformed messages as new dead letters at new offsets.
            _say(
                "this demo's events (same seed and start) are already in the database: not producing them again",
                quiet=quiet,
            )
            sent = 0
        else:
            _say(
                f"producing {len(items):,} query events and {len(MALFORMED)} malformed messages ...",
                quiet=quiet,
            )
            sent = produce(
                items,
                security=kafka_client_kwargs(settings),
                bootstrap=settings.kafka_bootstrap,
                topic=settings.topic_queries,
                partitions=settings.topic_partitions,
            ).sent
            _send_raw(settings, MALFORMED)
        log_path = settings.home / "logs" / "demo-worker.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        _say(f"running the worker until the stream is consumed (log: {log_path}) ...", quiet=quiet)
        with log_path.open("ab") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "clets_watch.cli", "worker"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=os.environ.copy(),
            )
        deadline = time.monotonic() + args.timeout
        lag = -1
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                raise UserError(f"the worker stopped with exit code {worker.returncode}; see {log_path}")
            lag = group_lag(settings.kafka_bootstrap, settings.consumer_group, settings.topic_queries)
            if lag == 0:
                break
            _say(f"  {lag:,} messages still to consume", quiet=quiet)
            time.sleep(2.0)
        else:
            raise UserError(
                f"the worker did not consume the stream within {args.timeout:.0f}s ({lag:,} left); see {log_path}"
            )
        summary = _summary(settings, items, sent, truth, offsets_before)
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        if started_kafka and not args.keep_stack:
            _say("stopping Kafka (started by the demo) ...", quiet=quiet)
            stack.down(["kafka"])
    if args.json:
        import json

        print(json.dumps(summary, default=str))
    else:
        _print_summary(summary, settings)
    return 0


def already_recorded(settings: Settings, items: list[Any], samples: int = 16) -> bool:
    """Whether the database already holds verdicts for this demo's events (checked on a spread sample of
    event ids, first and last included): a second run then produces nothing and adds nothing."""
    from sqlalchemy import func, select

    from sinks.db import database
    from sinks.models import QueryVerdict

    if not items:
        return False
    step = max(1, len(items) // samples)
    wanted = {items[i].event["event_id"] for i in range(0, len(items), step)} | {items[-1].event["event_id"]}
    with database(settings.database_url) as engine, engine.connect() as conn:
        found = conn.scalar(select(func.count()).where(QueryVerdict.event_id.in_(sorted(wanted))))
    return int(found or 0) == len(wanted)


def _send_raw(settings: Settings, messages: tuple[bytes, ...]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", **kafka_client_kwargs(settings)
    )
    try:
        for raw in messages:
            producer.send(settings.topic_queries, key=b"demo-malformed", value=raw)
        producer.flush(timeout=30)
    finally:
        producer.close()


def _this_run(source: str | None, topic: str, offsets_before: dict[int, int]) -> bool:
    """Whether a dead letter's source ("topic/partition/offset") was produced by this run."""
    if not source:
        return False
    name, partition, offset = (source.rsplit("/", 2) + ["", ""])[:3]
    if name != topic or not partition.isdigit() or not offset.isdigit():
        return False
    return int(offset) >= offsets_before.get(int(partition), 0)


def _summary(
    settings: Settings, items: list[Any], sent: int, truth: Counter[str], offsets_before: dict[int, int]
) -> dict[str, Any]:
    from sqlalchemy import func, select

    from processors.agencies import AgencyRegistry
    from sinks.alert_store import AlertStore
    from sinks.db import database
    from sinks.models import DeadLetterRecord, QueryVerdict

    event_ids = [item.event["event_id"] for item in items]
    first = min(dt.datetime.fromisoformat(i.event["occurred_at"]) for i in items)
    last = max(dt.datetime.fromisoformat(i.event["occurred_at"]) for i in items)
    registry = AgencyRegistry.load(settings.agencies_file)
    with database(settings.database_url) as engine, engine.connect() as conn:
        verdicts = dict(
            conn.execute(
                select(QueryVerdict.verdict, func.count())
                .where(QueryVerdict.occurred_at >= first, QueryVerdict.occurred_at <= last)
                .group_by(QueryVerdict.verdict)
            ).all()
        )
        dead = Counter(
            reason
            for reason, source in conn.execute(
                select(DeadLetterRecord.reason, DeadLetterRecord.source).where(
                    DeadLetterRecord.source.like(f"{settings.topic_queries}/%")
                )
            )
            if _this_run(source, settings.topic_queries, offsets_before)
        )
        alerts = [
            a
            for a in AlertStore(engine).list_alerts(limit=100_000)
            if first - dt.timedelta(hours=2) <= _as_dt(a.window_start) <= last + dt.timedelta(hours=2)
        ]
        from sinks.incidents import IncidentStore

        this_run = {a.incident_id for a in alerts if a.incident_id}
        incidents = [
            {
                "incident_id": r.incident_id,
                "severity": r.severity,
                "state": r.state,
                "alerts": r.alerts,
                "story": r.story,
            }
            for r in IncidentStore(AlertStore(engine)).list_incidents(limit=10_000)
            if r.incident_id in this_run
        ]
    grouped: dict[tuple[str, str], list[Any]] = {}
    for a in alerts:
        grouped.setdefault((a.rule, a.ori), []).append(a)

    def priority(item: tuple[tuple[str, str], list[Any]]) -> tuple[int, int, str]:
        (rule, ori), group = item
        rank = RULE_ORDER.index(rule) if rule in RULE_ORDER else len(RULE_ORDER)
        return (rank, -len(group), ori)

    rows = []
    for (rule, ori), group in sorted(grouped.items(), key=priority):
        agency = registry.get(ori)
        windows = sorted(_as_dt(a.window_start) for a in group)
        rows.append(
            {
                "rule": rule,
                "ori": ori,
                "agency": agency.name if agency else "unknown agency",
                "component": agency.component if agency else None,
                "alerts": len(group),
                "fired": sum(1 for a in group if a.status == "fired"),
                "suppressed": sum(1 for a in group if a.status == "suppressed"),
                "first_window_start": windows[0].isoformat(),
                "last_window_start": windows[-1].isoformat(),
                "max_evidence_events": max(int(a.evidence.get("count", 0)) for a in group),
                "alert_ids": [a.alert_id for a in group][:5],
            }
        )
    by_rule = Counter(a.rule for a in alerts)
    return {
        "events_produced": sent,
        "event_ids": len(set(event_ids)),
        "event_time": {"from": first.isoformat(timespec="seconds"), "to": last.isoformat(timespec="seconds")},
        "verdicts": verdicts,
        "ground_truth_verdicts": dict(truth),
        "dead_letters": dict(dead),
        "incidents": incidents,
        "alerts": len(alerts),
        "alerts_by_rule": dict(
            sorted(by_rule.items(), key=lambda kv: RULE_ORDER.index(kv[0]) if kv[0] in RULE_ORDER else 99)
        ),
        "alert_groups": rows,
        "database": masked_url(settings.database_url),
        "metrics": f"http://{settings.metrics_host}:{settings.metrics_port}/metrics (while a worker runs)",
    }


def _as_dt(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _print_summary(s: dict[str, Any], settings: Settings) -> None:
    v = s["verdicts"]
    print()
    again = (
        "" if s["events_produced"] else " (already in the database from an earlier run: none produced again)"
    )
    print(
        f"clets-watch demo: {s['event_ids']:,} CLETS query events, "
        f"{s['event_time']['from']} .. {s['event_time']['to']}{again}"
    )
    print(
        f"  verdicts      prohibited {v.get('prohibited', 0):,} · review {v.get('review', 0):,} · "
        f"allowed {v.get('allowed', 0):,}"
    )
    dl = s["dead_letters"]
    print(
        f"  dead letters  {sum(dl.values())} ({', '.join(f'{k} {n}' for k, n in sorted(dl.items())) or 'none'})"
    )
    print(
        f"  incidents     {len(s['incidents'])} (one case per burst of an agency's or operator's alerts), "
        "most severe first:"
    )
    for inc in s["incidents"][:MAX_ROWS]:
        print(f"    {inc['severity']:<8} {inc['alerts']:>4} alert(s)  {inc['story']}")
    if len(s["incidents"]) > MAX_ROWS:
        print(f"    ... and {len(s['incidents']) - MAX_ROWS} more: clets-watch incidents")
    print("                clets-watch incidents show <incident_id>   ·   clets-watch incidents --json")
    print()
    print(
        f"  alerts        {s['alerts']:,}: " + ", ".join(f"{r} {n}" for r, n in s["alerts_by_rule"].items())
    )
    print()
    rows = s["alert_groups"]
    if rows:
        print(
            f"  {'RULE':<20} {'ORI':<10} {'AGENCY':<42} {'FIRED':>5} {'SUPPR':>5} {'EVIDENCE':>8}  FIRST WINDOW (UTC)"
        )
        for r in rows[:MAX_ROWS]:
            print(
                f"  {r['rule']:<20} {r['ori']:<10} {r['agency'][:42]:<42} {r['fired']:>5} {r['suppressed']:>5} "
                f"{r['max_evidence_events']:>8}  {r['first_window_start'][:16].replace('T', ' ')}"
            )
        print(
            "  (SUPPR: re-alerts inside the suppression period, recorded as suppressed; "
            "EVIDENCE: most queries behind one alert)"
        )
        if len(rows) > MAX_ROWS:
            print(
                f"  ... and {len(rows) - MAX_ROWS} more (rule, agency) rows: clets-watch alerts --rule RULE"
            )
    print()
    print(f"  database      {s['database']}")
    print("                clets-watch alerts --rule dmv_by_dhs_surge   ·   clets-watch alerts --json")
    print(f"  metrics       {s['metrics']}")
