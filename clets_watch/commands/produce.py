"""``clets-watch produce``: run the CLETS simulator into Kafka or an archive file.

clets-watch produce --to kafka|FILE [--seed N] [--start ISO] [--minutes M] [--rate R]
                    [--scenario NAME[:key=value,...]] ... [--agencies FILE] [--topic T]
                    [--bootstrap HOST:PORT] [--pace WALL_EVENTS_PER_S] [--truth/--no-truth]
                    [--truth-file PATH] [--jitter S] [--no-background] [--quiet] [--[no-]progress] [--json]
clets-watch produce --list-scenarios [--json]

Progress goes to stderr: a bar (share of the event time written, events/s, ETA) when it is a terminal
(not with ``--json``), else a line every few seconds (a log); ``--quiet`` or ``--no-progress`` for none.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from clets_watch.commands.options import (
    HELP_WIDTH,
    Subcommands,
    add_bootstrap,
    add_command,
    add_json,
    add_progress,
)
from clets_watch.kafka_security import kafka_client_kwargs
from clets_watch.progress import Progress, progress_enabled

KAFKA = "kafka"
DEFAULT_SEED = 1
DEFAULT_MINUTES = 60.0
DEFAULT_RATE = 10.0
PROGRESS_SECONDS = 2.0


def register(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "produce",
        run=run,
        help="simulate CLETS queries (background + scenarios) into Kafka or an archive file",
        description=textwrap.fill(
            "Generate synthetic CLETS query events in event time — every registry agency's everyday traffic "
            "plus scenarios such as an immigration raid or a snooping operator — and send them to Kafka "
            "(key = ORI) or write them to an archive (.jsonl or .jsonl.gz) with the ground truth in a "
            "sidecar <name>.truth.jsonl.gz. The same seed and start give the same events.",
            width=HELP_WIDTH,
        ),
        epilog=(
            "examples:\n"
            "  clets-watch produce --to run.jsonl.gz --start 2019-03-05T00:00-08:00 --scenario raid\n"
            "  clets-watch produce --to day.jsonl.gz --minutes 1440 --scenario raid --scenario snooping\n"
            "  clets-watch produce --to kafka --rate 20 --pace 200 --scenario raid:oris=CAICE0200,minutes=45\n"
            "  clets-watch produce --list-scenarios"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--to", metavar="kafka|FILE", help="'kafka', or an archive path (.jsonl or .jsonl.gz)")
    p.add_argument("--list-scenarios", action="store_true", help="list the scenarios and exit")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    p.add_argument(
        "--start",
        metavar="ISO",
        help="event time of the first moment, e.g. 2019-03-05T00:00-08:00; without an offset: California time "
        "(default: now, to the minute)",
    )
    p.add_argument(
        "--minutes",
        type=float,
        default=DEFAULT_MINUTES,
        help=f"event-time length of the run (default {DEFAULT_MINUTES:g})",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        metavar="EVENTS_PER_S",
        help=f"background events per second of event time, averaged over a week (default {DEFAULT_RATE:g}; "
        "weekday office hours run about twice that)",
    )
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME[:k=v,...]",
        help="add a scenario (repeatable), e.g. raid or raid:oris=CAICE0100+CACBP0100,start=2019-03-05T05:30-08:00",
    )
    p.add_argument(
        "--no-background",
        dest="background",
        action="store_false",
        help="only the scenarios' events, no everyday traffic",
    )
    p.add_argument(
        "--agencies", type=Path, metavar="FILE", help="agency registry CSV (default: the bundled one)"
    )
    p.add_argument(
        "--jitter",
        type=float,
        default=5.0,
        metavar="S",
        help="arrival disorder, at most S seconds of event time (0..120, default 5)",
    )
    p.add_argument("--topic", help="Kafka topic (default: CLETS_WATCH_TOPIC_QUERIES or clets.queries)")
    add_bootstrap(p)
    p.add_argument(
        "--pace",
        type=float,
        metavar="WALL_EVENTS_PER_S",
        help="send at most this many events per wall-clock second (default: as fast as possible)",
    )
    p.add_argument(
        "--truth",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write the ground-truth sidecar beside an archive (default: yes)",
    )
    p.add_argument(
        "--truth-file",
        type=Path,
        metavar="PATH",
        help="with --to kafka: also write the ground truth of the sent events to PATH",
    )
    p.add_argument("--quiet", action="store_true", help="no progress (bar or lines) on stderr")
    add_progress(p)
    add_json(p, "one summary line; with --list-scenarios one scenario per line")


def _user_error(message: str) -> Exception:
    from clets_watch.cli import UserError

    return UserError(message)


def _parse_start(text: str | None) -> dt.datetime:
    from producers.scenarios import PACIFIC

    if text is None:
        return dt.datetime.now(PACIFIC).replace(second=0, microsecond=0)
    try:
        start = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _user_error(
            f"--start {text!r} is not an ISO 8601 date-time (e.g. 2019-03-05T00:00-08:00)"
        ) from None
    return start.replace(tzinfo=PACIFIC) if start.tzinfo is None else start


def list_scenarios(out: IO[str], *, as_json: bool) -> int:
    from producers.scenarios import scenario_catalogue

    catalogue = scenario_catalogue()
    if as_json:
        for n, d in catalogue:
            out.write(json.dumps({"name": n, "description": d}) + "\n")
    else:
        width = max(len(n) for n, _ in catalogue)
        for name, description in catalogue:
            out.write(f"{name:<{width}}  {description}\n")
    return 0


class Tally:
    """Counts by scenario and by expected verdict while events stream past; shows progress: a ``bar``
    measured in seconds of event time since ``start`` (on a terminal), or a ``progress`` line every
    PROGRESS_SECONDS (for a log)."""

    def __init__(
        self,
        *,
        progress: IO[str] | None,
        bar: Progress | None = None,
        start: dt.datetime | None = None,
    ) -> None:
        self.total = 0
        self.by_scenario: Counter[str] = Counter()
        self.by_verdict: Counter[str] = Counter()
        self.by_scenario_verdict: Counter[tuple[str, str]] = Counter()
        self.misuse = 0
        self.last_event_time = ""
        self._progress = progress
        self._bar = bar
        self._start = start.timestamp() if start is not None else 0.0
        self._started = time.monotonic()
        self._next = self._started + PROGRESS_SECONDS

    def watch(self, items: Iterable[Any]) -> Iterator[Any]:
        for item in items:
            truth = item.truth
            scenario = str(truth.get("scenario"))
            verdict = str(truth.get("verdict"))
            self.total += 1
            self.by_scenario[scenario] += 1
            self.by_verdict[verdict] += 1
            self.by_scenario_verdict[(scenario, verdict)] += 1
            if truth.get("misuse"):
                self.misuse += 1
            if self._bar is not None and (self.total & 1023) == 0:
                self._bar.events = self.total
                occurred = dt.datetime.fromisoformat(str(item.event["occurred_at"])).timestamp()
                self._bar.update(max(int(occurred - self._start), 0))
            elif self._progress is not None and (self.total & 1023) == 0:
                now = time.monotonic()
                if now >= self._next:
                    self._next = now + PROGRESS_SECONDS
                    self.last_event_time = str(item.event["occurred_at"])
                    rate = self.total / (now - self._started)
                    self._progress.write(
                        f"produce: {self.total:,} events, event time {self.last_event_time}, {rate:,.0f}/s\n"
                    )
                    self._progress.flush()
            yield item
        if self._bar is not None:
            self._bar.events = self.total
            self._bar.finish(self._bar.total)

    def as_dict(self) -> dict[str, Any]:
        per: dict[str, dict[str, int]] = {}
        for (scenario, verdict), n in sorted(self.by_scenario_verdict.items()):
            per.setdefault(scenario, {})[verdict] = n
        return {
            "events": self.total,
            "by_scenario": dict(sorted(self.by_scenario.items())),
            "by_verdict": dict(sorted(self.by_verdict.items())),
            "by_scenario_verdict": per,
            "misuse": self.misuse,
        }


def run(args: argparse.Namespace) -> int:
    if args.list_scenarios:
        return list_scenarios(sys.stdout, as_json=args.json)
    if not args.to:
        raise _user_error("say where the events go: --to kafka or --to FILE (.jsonl / .jsonl.gz)")
    if args.minutes <= 0:
        raise _user_error(f"--minutes must be positive, got {args.minutes:g}")
    if args.rate < 0:
        raise _user_error(f"--rate must be >= 0, got {args.rate:g}")
    if args.pace is not None and args.pace <= 0:
        raise _user_error(f"--pace must be a positive number of events per wall second, got {args.pace:g}")
    to_kafka = args.to == KAFKA
    if args.truth_file is not None and not to_kafka:
        raise _user_error("--truth-file is for --to kafka; an archive gets its sidecar <name>.truth.jsonl.gz")
    if args.pace is not None and not to_kafka:
        raise _user_error("--pace is for --to kafka; archives are written as fast as possible")

    from clets_watch.settings import get_settings
    from processors.agencies import AgencyRegistry, RegistryError
    from producers.scenarios import ScenarioError
    from producers.simulator import Simulation

    settings = get_settings()
    start = _parse_start(args.start)
    agencies_file = args.agencies or settings.agencies_file
    try:
        registry = AgencyRegistry.load(agencies_file)
        simulation = Simulation(
            seed=args.seed,
            start=start,
            duration=dt.timedelta(minutes=args.minutes),
            rate_per_second=args.rate,
            scenarios=args.scenario,
            registry=registry,
            jitter_seconds=args.jitter,
            background=args.background,
        )
        described = simulation.describe()
    except (RegistryError, ScenarioError) as exc:
        raise _user_error(str(exc)) from None
    except ValueError as exc:
        raise _user_error(f"cannot simulate: {exc}") from None

    # a bar on a terminal; a line every few seconds where stderr is a log (docker-compose's producer)
    bar = progress_enabled(args.progress, sys.stderr, quiet=args.quiet or args.json)
    lines = not bar and not args.quiet and args.progress is None
    tally = Tally(
        progress=sys.stderr if lines else None,
        bar=Progress(int(args.minutes * 60), "seconds of event time", sys.stderr, enabled=True)
        if bar
        else None,
        start=start,
    )
    summary: dict[str, Any] = {
        "seed": args.seed,
        "start": start.isoformat(),
        "minutes": args.minutes,
        "rate": args.rate,
        "background": args.background,
        "scenarios": described,
    }
    started = time.monotonic()
    try:
        if to_kafka:
            summary.update(_to_kafka(args, settings, simulation, tally))
        else:
            summary.update(_to_file(args, simulation, tally))
    except ScenarioError as exc:
        raise _user_error(str(exc)) from None
    summary["seconds"] = round(time.monotonic() - started, 3)
    summary["truth"] = tally.as_dict()
    if args.json:
        json.dump(summary, sys.stdout)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_summary(summary))
    return 0


def _to_file(args: argparse.Namespace, simulation: Any, tally: Tally) -> dict[str, Any]:
    from producers.archive import ArchiveError, ArchiveWriter

    path = Path(args.to)
    if not path.parent.exists():
        raise _user_error(f"cannot write {path}: folder {path.parent} does not exist")
    try:
        writer = ArchiveWriter(path, truth=args.truth)
    except ArchiveError as exc:
        raise _user_error(str(exc)) from None
    try:
        writer.write_all(tally.watch(simulation.events()))
    except BaseException:
        writer.abort()
        raise
    stats = writer.close()
    return {
        "to": str(stats.path),
        "truth_file": str(stats.truth_path) if stats.truth_path else None,
        "bytes": stats.bytes_written,
    }


def _to_kafka(args: argparse.Namespace, settings: Any, simulation: Any, tally: Tally) -> dict[str, Any]:
    from producers.archive import ArchiveError, TruthWriter
    from producers.kafka_out import BrokerUnavailable, ProduceError, produce

    bootstrap = args.bootstrap or settings.kafka_bootstrap
    topic = args.topic or settings.topic_queries
    truth_writer: TruthWriter | None = None
    if args.truth_file is not None:
        try:
            truth_writer = TruthWriter(args.truth_file)
        except ArchiveError as exc:
            raise _user_error(str(exc)) from None

    def events() -> Iterator[Any]:
        for item in tally.watch(simulation.events()):
            if truth_writer is not None:
                truth_writer.write(item)
            yield item

    try:
        result = produce(
            events(),
            bootstrap=bootstrap,
            topic=topic,
            partitions=settings.topic_partitions,
            pace=args.pace,
            security=kafka_client_kwargs(settings),
        )
    except (BrokerUnavailable, ProduceError) as exc:
        if truth_writer is not None:
            truth_writer.abort()
        raise _user_error(str(exc)) from None
    except BaseException:
        if truth_writer is not None:
            truth_writer.abort()
        raise
    if truth_writer is not None:
        truth_writer.close()
    return {
        "to": f"kafka://{bootstrap}/{topic}",
        "sent": result.sent,
        "topic_created": result.topic_created,
        "truth_file": str(args.truth_file) if args.truth_file else None,
        "rate_per_wall_second": round(result.rate, 1),
    }


def format_summary(summary: dict[str, Any]) -> str:
    truth = summary["truth"]
    lines = [
        (
            f"produced {truth['events']:,} events to {summary['to']} in {summary['seconds']:.1f}s "
            f"(seed {summary['seed']}, start {summary['start']}, {summary['minutes']:g} min of event time)"
        ),
    ]
    if summary.get("truth_file"):
        lines.append(f"ground truth: {summary['truth_file']}")
    for d in summary["scenarios"]:
        detail = ", ".join(f"{k}={v}" for k, v in d.items() if k != "scenario")
        lines.append(f"scenario {d['scenario']}: {detail}")
    lines.append("")
    verdicts = sorted({v for per in truth["by_scenario_verdict"].values() for v in per})
    header = ["scenario", "events", *verdicts]
    rows = [
        [s, f"{n:,}", *(f"{truth['by_scenario_verdict'][s].get(v, 0):,}" for v in verdicts)]
        for s, n in truth["by_scenario"].items()
    ]
    rows.append(["total", f"{truth['events']:,}", *(f"{truth['by_verdict'].get(v, 0):,}" for v in verdicts)])
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        lines.append(
            "  ".join(
                str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths))
            )
        )
    lines.append(f"misuse (ground truth): {truth['misuse']:,}")
    return "\n".join(lines) + "\n"
