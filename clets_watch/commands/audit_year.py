"""``clets-watch audit-year``: simulate a whole audit year (default the 2018 preset) to an archive or Kafka.

    clets-watch audit-year --to FILE.jsonl.gz [--preset audit-2018] [--rate R] [--seed N] [--filings FILE]
    clets-watch audit-year --to kafka [--topic T] [--bootstrap HOST:PORT] [--partitions N] ...

A progress bar (share of the year's event time written, events/s, ETA) goes to stderr when it is a
terminal (not with ``--json``), or always with ``--progress``.

Writes the events (archive: with the ground-truth sidecar; Kafka: record timestamp = event time) and
the year's misuse disclosures as a CSV for ``clets-watch disclosures import``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from clets_watch.cli import UserError
from clets_watch.commands.options import Subcommands, add_bootstrap, add_command, add_json, add_progress
from clets_watch.progress import Progress, progress_enabled
from clets_watch.settings import get_settings
from processors.disclosures import filings_csv
from producers.audit_year import AuditYear, preset
from producers.simulator import LabelledEvent


def register(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "audit-year",
        run=run,
        help="simulate a whole audit year (2018: DHS components, a raid, disclosures) to an archive or Kafka",
        description=(
            "Generate a calendar year of simulated CLETS traffic for an audit: background traffic of every "
            "registry agency, a raid period (ICE-ERO with CBP), CCW checks under purpose code C, a snooping "
            "operator; plus the year's misuse disclosures (DHS components report zero, one ICE-ERO office "
            "files late, some agencies never file)."
        ),
    )
    p.add_argument(
        "--to", required=True, metavar="FILE|kafka", help="archive file (.jsonl or .jsonl.gz) or 'kafka'"
    )
    p.add_argument(
        "--preset", default="audit-2018", help="audit-2018 (or audit-YYYY: the same shape in that year)"
    )
    p.add_argument(
        "--rate",
        type=float,
        metavar="R",
        help="background events per second of event time, long-run average (default 0.5: ~16M/year)",
    )
    p.add_argument("--seed", type=int, help="random seed (default: the year)")
    p.add_argument("--raid-lookups", type=int, metavar="N", help="look-ups in the raid period (default 900)")
    p.add_argument(
        "--filings",
        type=Path,
        metavar="FILE",
        help="where to write the disclosures CSV (default: beside the archive, or ./audit-YYYY.filings.csv)",
    )
    p.add_argument("--topic", help="Kafka topic (default: settings)")
    add_bootstrap(p)
    p.add_argument(
        "--partitions", type=int, default=1, help="partitions when the topic is created (default 1)"
    )
    add_progress(p)
    add_json(p, "one summary line at the end")


def _filings_path(args: argparse.Namespace, year: int) -> Path:
    if args.filings:
        return Path(args.filings)
    if args.to != "kafka":
        name = Path(args.to).name
        for suffix in (".jsonl.gz", ".jsonl", ".gz"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        return Path(args.to).with_name(f"{name}.filings.csv")
    return Path(f"audit-{year}.filings.csv")


PROGRESS_EVERY = 4096  # events between two looks at the event time (the bar redraws at most twice a second)


def with_progress(
    events: Iterable[LabelledEvent], year: AuditYear, progress: Progress
) -> Iterator[LabelledEvent]:
    """Pass ``events`` through, counting them and measuring progress in seconds of the year's event time."""
    start = year.start.timestamp()
    n = 0
    for item in events:
        n += 1
        if n % PROGRESS_EVERY == 0:
            progress.events = n
            progress.update(int(dt.datetime.fromisoformat(item.event["occurred_at"]).timestamp() - start))
        yield item
    progress.events = n


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    overrides: dict[str, object] = {}
    if args.rate is not None:
        if args.rate <= 0:
            raise UserError(f"--rate must be a positive number of events per second, got {args.rate}")
        overrides["rate_per_second"] = args.rate
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.raid_lookups is not None:
        overrides["raid_lookups"] = args.raid_lookups
    try:
        year = preset(args.preset, **overrides)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    started = time.monotonic()
    total = int(year.end.timestamp() - year.start.timestamp())
    progress = Progress(
        total,
        "seconds of event time",
        sys.stderr,
        enabled=progress_enabled(getattr(args, "progress", None), sys.stderr, quiet=args.json),
    )
    events: Iterable[LabelledEvent] = year.events()
    if progress.enabled:
        events = with_progress(events, year, progress)
    if args.to == "kafka":
        from producers.audit_year import produce_event_time
        from producers.kafka_out import BrokerUnavailable, ProduceError

        settings = get_settings()
        topic = args.topic or settings.topic_queries
        bootstrap = args.bootstrap or settings.kafka_bootstrap
        try:
            from clets_watch.kafka_security import kafka_client_kwargs

            n = produce_event_time(
                events,
                bootstrap=bootstrap,
                topic=topic,
                partitions=args.partitions,
                security=kafka_client_kwargs(),
            )
        except (BrokerUnavailable, ProduceError) as exc:
            raise UserError(str(exc)) from None
        where = f"kafka {bootstrap} topic {topic}"
    else:
        from producers.archive import ArchiveError, write_archive

        Path(args.to).parent.mkdir(parents=True, exist_ok=True)
        try:
            stats = write_archive(args.to, events)
        except ArchiveError as exc:
            raise UserError(str(exc)) from None
        n = stats.events
        where = str(stats.path)
    progress.finish(total)
    filings = _filings_path(args, year.year)
    filings.parent.mkdir(parents=True, exist_ok=True)
    filings.write_text(filings_csv(year.filings()))
    seconds = time.monotonic() - started
    summary = {
        **year.describe(),
        "events": n,
        "to": where,
        "filings": str(filings),
        "seconds": round(seconds, 2),
    }
    if args.json:
        out.write(json.dumps(summary, sort_keys=True) + "\n")
    else:
        out.write(f"{summary['preset']}: {n:,} events to {where} in {seconds:.1f} s\n")
        out.write(f"  scenarios: {'; '.join(year.scenarios())}\n")
        out.write(
            f"  disclosures: {filings} (late: {', '.join(year.late_filers) or 'none'}; "
            f"never filed: {', '.join(year.never_filers) or 'none'})\n"
        )
        out.write(
            f"next: clets-watch replay --input {args.to if args.to != 'kafka' else '…'} --record; "
            f"clets-watch disclosures import {filings}\n"
        )
    return 0
