"""``clets-watch bench``: throughput, latency and memory of clets-watch, side by side, in one run.

    clets-watch bench [--events N] [--replay-events N] [--latency-seconds S] [--latency-rate R]
                      [--full] [--seed N] [--bootstrap HOST:PORT] [--db URL] [--json] [--out FILE]

Ceiling (bare aiokafka / kafka-python / confluent-kafka loops decoding JSON), the live worker, the
Quix Streams peer, event->alert latency at a fixed rate, and offline replay vs bare parse with RSS.
Starts Kafka when none runs (and stops it afterwards). A measurement, never a pass/fail check.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from clets_watch.commands.options import Subcommands, add_bootstrap, add_command, add_db, add_json
from clets_watch.settings import Settings


def register(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "bench",
        run=run,
        help="measure throughput, latency and replay memory against raw consumers and Quix Streams",
        description=(
            "Run the same generated events through bare Kafka consumers (the ceiling), the live worker, "
            "a Quix Streams peer, a fixed-rate latency run and an offline replay; print a table (or "
            "--json) and write the results file. Starts Kafka when none is running."
        ),
    )
    p.add_argument(
        "--events", type=int, default=200_000, help="events for the throughput stages (default 200000)"
    )
    p.add_argument(
        "--replay-events",
        type=int,
        default=1_000_000,
        help="events in the replay archive (default 1000000; --full makes it 10000000)",
    )
    p.add_argument("--full", action="store_true", help="replay 10 million events (RSS at 1M and 10M)")
    p.add_argument(
        "--latency-seconds", type=float, default=30.0, help="seconds of fixed-rate producing (default 30)"
    )
    p.add_argument(
        "--latency-rate",
        type=float,
        default=3200.0,
        help="events per second while measuring latency (default 3200: 100x the statewide average)",
    )
    p.add_argument("--seed", type=int, default=2019, help="simulator seed (default 2019)")
    add_bootstrap(p)
    add_db(p, default="a SQLite file in a temporary folder, for the worker")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("BENCH_RESULTS.json"),
        help="results file (default BENCH_RESULTS.json; '-' for none)",
    )
    add_json(p, "the results on one line")


def run(args: argparse.Namespace) -> int:
    from clets_watch.bench.runner import BenchConfig
    from clets_watch.bench.runner import run as run_bench
    from clets_watch.bench.subproc import StageError
    from clets_watch.cli import UserError
    from clets_watch.stack import Stack, StackConfig, StackError

    for name in ("events", "replay_events", "latency_seconds", "latency_rate"):
        if getattr(args, name) <= 0:
            raise UserError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    settings = Settings()
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    stack = Stack(StackConfig(home=settings.home / "stack"))
    started_kafka = False
    if not args.bootstrap and not any(s.running for s in stack.status(["kafka"])):
        if int(bootstrap.rsplit(":", 1)[1]) != stack.config.kafka_port:
            raise UserError(f"no Kafka broker at {bootstrap}")
        print("starting Kafka (KRaft, single node) for the bench ...", file=sys.stderr)
        try:
            stack.up(["kafka"])
        except StackError as exc:
            raise UserError(str(exc)) from None
        started_kafka = True
    config = BenchConfig(
        bootstrap=bootstrap,
        events=args.events,
        replay_events=10_000_000 if args.full else args.replay_events,
        latency_seconds=args.latency_seconds,
        latency_rate=args.latency_rate,
        seed=args.seed,
        cache_dir=settings.home / "bench",
        db_url=args.db,
    )
    try:
        results = run_bench(config)
    except StageError as exc:
        raise UserError(f"bench stage failed: {exc}") from None
    finally:
        if started_kafka:
            print("stopping Kafka (started by the bench) ...", file=sys.stderr)
            stack.down(["kafka"])
    from clets_watch.bench import report

    if str(args.out) != "-":
        report.write_results(results, args.out)
    if args.json:
        print(json.dumps(results, sort_keys=True))
    else:
        print(report.render(results))
        if str(args.out) != "-":
            print(f"\nresults: {args.out}")
    return 0
