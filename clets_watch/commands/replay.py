"""``clets-watch replay``: run archived query events through the same pipeline as the worker.

    clets-watch replay --input FILE [--input FILE ...] [--agencies FILE] [--policy FILE]
                       [--rules FILE] [--json] [--dead-letters FILE]
    clets-watch replay --from-kafka [--topic T] [--bootstrap HOST:PORT] [--since TIME] [--until TIME] ...
    clets-watch replay ... --record [--run-id ID] [--note TEXT] [--db URL]
    clets-watch replay ... --workers N     (N processes, split by agency, merged: the same output)
    clets-watch replay --diff RUN_A RUN_B [--db URL] [--json]      (a run id, or ``live``)

Reads .jsonl / .jsonl.gz archives (one query event per line) as one stream — or a Kafka topic between
two record timestamps, found with ``offsets_for_times`` (no scan from the start) — closes every window
at the end, and prints the alerts: a readable summary, or with ``--json`` one JSON object per line
(sorted keys, sorted alerts), so two runs over the same input print byte-identical output.

Bad input is dead-lettered as in the worker (``--dead-letters FILE`` writes each with its file and
line), the first bad lines are named on stderr, and past the worker's bad-input limit
(``CLETS_WATCH_DEAD_LETTER_MAX_RATIO`` of the last ``CLETS_WATCH_DEAD_LETTER_WINDOW`` lines, or of the
whole input when it is shorter) the command exits 3.

``--record`` writes an audit run to the database (``audit_runs`` and its run-scoped tables; the live
tables are never touched) and keeps only counts in memory, so a year of events replays in bounded
memory; with ``--json`` it prints a JSON summary of the run at the end. ``--diff`` compares the
alerts of two runs (or a run and the live alerts) by alert id. A progress bar (events/s, ETA) goes
to stderr when it is a terminal (not with ``--json``), or always with ``--progress``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import heapq
import json
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from clets_watch.cli import UserError
from clets_watch.commands.options import (
    Subcommands,
    add_bootstrap,
    add_command,
    add_db,
    add_json,
    add_progress,
    parse_time_with_offset,
)
from clets_watch.kafka_security import kafka_client_kwargs
from clets_watch.progress import Progress, progress_enabled
from clets_watch.settings import MissingPseudonymKey, get_settings
from processors.agencies import RegistryError
from processors.dead_letter_limit import DeadLetterLimit
from processors.gc_tuning import freeze_gc, tune_gc
from processors.pipeline import Pipeline
from processors.replay import (
    ArchiveError,
    AuditTally,
    BadInputWatch,
    ReplayResult,
    alert_json,
    incident_json,
    replay_files,
    run_stream,
)
from processors.replay_pool import ReplayPoolError, run_pool
from processors.rules.base import RuleConfigError

SUMMARY_WIDTH = 70
DIFF_SHOWN = 40


def register(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "replay",
        run=run,
        help="run archived (or Kafka) query events through the pipeline; record and compare audit runs",
        description=(
            "Replay .jsonl or .jsonl.gz archives (one query event per line), or a Kafka topic between two "
            "timestamps, through the same classification, windows and alert rules as the worker. Alert ids "
            "match the live worker's for the same events and pseudonym key. --record writes an audit run to "
            "the database (never the live tables); --diff compares two runs."
        ),
    )
    src = p.add_argument_group("input")
    src.add_argument(
        "--input",
        "-i",
        action="append",
        type=Path,
        metavar="FILE",
        help="archive file (.jsonl or .jsonl.gz); repeat for several, replayed in order",
    )
    src.add_argument("--from-kafka", action="store_true", help="read the topic instead of archives")
    src.add_argument("--topic", metavar="TOPIC", help="topic to read (default: settings, clets.queries)")
    add_bootstrap(src)
    src.add_argument(
        "--since",
        metavar="TIME",
        help="first record timestamp to replay (RFC 3339, or a date = 00:00 Pacific)",
    )
    src.add_argument("--until", metavar="TIME", help="replay records before this record timestamp")
    p.add_argument("--agencies", type=Path, metavar="FILE", help="agency registry CSV (default: bundled)")
    p.add_argument("--policy", type=Path, metavar="FILE", help="policy YAML (default: bundled policy v1)")
    p.add_argument("--rules", type=Path, metavar="FILE", help="rules YAML merged over the bundled rules.yaml")
    p.add_argument("--window-seconds", type=int, metavar="N", help="tumbling window size (default: settings)")
    p.add_argument(
        "--allowed-lateness", type=int, metavar="N", help="allowed lateness in seconds (default: settings)"
    )
    rec = p.add_argument_group("audit runs")
    rec.add_argument("--record", action="store_true", help="write the replay as an audit run to the database")
    rec.add_argument(
        "--run-id", metavar="ID", help="id of the recorded run (default: replay-<UTC time>-<random>)"
    )
    rec.add_argument("--note", metavar="TEXT", help="a note stored with the run")
    add_db(rec)
    rec.add_argument(
        "--diff",
        nargs=2,
        metavar=("RUN_A", "RUN_B"),
        help="compare the alerts of two recorded runs (or 'live') and exit",
    )
    rec.add_argument("--list-runs", action="store_true", help="list the recorded audit runs and exit")
    p.add_argument(
        "--dead-letters",
        type=Path,
        metavar="FILE",
        help="write every dead letter (reason, detail, file:line, payload) to FILE as JSON lines",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="processes to replay in, the stream split by agency (ORI) and merged exactly: the "
        "output is byte-identical to --workers 1 (default 1)",
    )
    add_progress(p)
    add_json(p, "one alert per line; with --record one summary line of the run; with --diff the diff")
    p.add_argument(
        "--access-decisions",
        metavar="DB_URL|none",
        default=None,
        help="apply the suspend/restore decisions of this database by event time (default: the "
        "settings database when it exists; 'none' for none)",
    )
    p.add_argument(
        "--incidents",
        action="store_true",
        help="print the incidents (one case per burst of an agency's or operator's alerts) instead "
        "of the alerts; with --json one JSON object per incident",
    )


# ------------------------------------------------------------------------------------ building


def build_pipeline(args: argparse.Namespace) -> Pipeline:
    """The pipeline a replay runs: registry, policy, pseudonym key and windows from flags or settings."""
    return _build(args)[0]


def _build(args: argparse.Namespace) -> tuple[Pipeline, str, bytes]:
    pipeline, version, key, _factory = _build_with_factory(args)
    return pipeline, version, key


def _build_with_factory(args: argparse.Namespace) -> tuple[Pipeline, str, bytes, Callable[[], Pipeline]]:
    """The pipeline, the policy version, the pseudonym key, and a function that builds another pipeline
    like it (what each process of ``--workers N`` calls: registry, policy, key and the supervisors'
    access decisions are read once, here)."""
    from processors.build import PipelineOverrides
    from processors.build import build_pipeline as build
    from processors.policy import PolicyError

    settings = get_settings()
    overrides = PipelineOverrides(
        agencies_file=args.agencies,
        policy_file=args.policy,
        rules_file=args.rules,
        window_seconds=args.window_seconds,
        allowed_lateness_seconds=args.allowed_lateness,
    )
    try:
        built = build(settings, overrides)  # the worker's builder: same settings, same alerts
    except MissingPseudonymKey as exc:
        raise UserError(str(exc)) from None
    except RegistryError as exc:
        raise UserError(str(exc)) from None
    except (PolicyError, OSError) as exc:
        raise UserError(f"policy: {exc}") from None
    except (RuleConfigError, ValueError) as exc:
        raise UserError(str(exc)) from None
    print(f"pseudonyms: {built.key_note}", file=sys.stderr)
    decisions = _access_decisions(args)

    def factory() -> Pipeline:
        pipeline = built.new()
        for d in decisions:
            pipeline.apply_decision(d)
        return pipeline

    return factory(), str(built.policy.version), built.key, factory


def rules_version(pipeline: Pipeline) -> str:
    """The rule set a run used: ``<n> rules <digest>`` of every rule id, version and setting."""
    spec = sorted((r.rule_id, r.version, repr(r.settings)) for r in pipeline.rules)
    digest = hashlib.sha256(repr(spec).encode()).hexdigest()[:12]
    return f"{len(spec)} rules {digest}"


# ------------------------------------------------------------------------------------ sources


def archive_lines(paths: list[Path], progress: Progress) -> Iterator[tuple[bytes, str]]:
    """Lines of the archives in order, as ``iter_archive`` gives them (same sources, bounded: a line
    longer than the event limit is never read whole), with progress measured in archive bytes read
    (compressed bytes for .gz)."""
    import gzip

    from processors.lines import LineReadError, bounded_lines, check_input_file

    done_before = 0
    for path in paths:
        try:
            check_input_file(path)
            raw = path.open("rb")
        except (OSError, LineReadError) as exc:
            raise ArchiveError(f"cannot read archive {path}: {exc}") from exc
        with raw:
            gz = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            fh: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw  # type: ignore[assignment]
            try:
                for lineno, line in bounded_lines(fh, name=str(path)):
                    if line.strip():
                        progress.events += 1
                        if lineno % 2048 == 0:
                            progress.update(done_before + raw.tell())
                        yield line, f"{path.name}:{lineno}"
            except LineReadError as exc:
                raise ArchiveError(f"cannot read archive {path}: {exc}") from exc
        done_before += path.stat().st_size
        progress.update(done_before)


def parse_time(text: str, *, flag: str) -> dt.datetime:
    """RFC 3339 with an offset, or a bare date (00:00 Pacific that day)."""
    from zoneinfo import ZoneInfo

    value = text.strip()
    kind = "a date (YYYY-MM-DD) or an RFC 3339 time"
    if len(value) != 10:
        return parse_time_with_offset(value, flag, kind=kind, example=f"{value}Z or {value}-08:00")
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{flag} {text!r} is not {kind}") from None
    return dt.datetime.combine(day, dt.time(0), ZoneInfo("America/Los_Angeles"))


def _ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


class KafkaRange:
    """The records of a topic with record timestamps in [since, until), every partition merged into one
    stream in timestamp order (ties by partition and offset, so the order never depends on fetch timing).

    Offsets come from ``offsets_for_times``: each partition starts at the first record at or after
    ``since - lateness`` and stops at the first record at or after ``until + lateness``; records outside
    [since, until) are skipped. The ``lateness`` margin keeps records that arrived out of order (within
    the allowed lateness) across either bound. Without ``since``/``until`` the range is the whole topic
    (beginning / end offsets at the start of the replay).
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        since: dt.datetime | None,
        until: dt.datetime | None,
        *,
        lateness_seconds: int,
    ) -> None:
        from kafka import KafkaConsumer, TopicPartition
        from kafka.errors import KafkaError

        self.bootstrap = bootstrap
        self.topic = topic
        self.since_ms = _ms(since) if since else None
        self.until_ms = _ms(until) if until else None
        margin = lateness_seconds * 1000
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=bootstrap,
                client_id="clets-watch-replay",
                enable_auto_commit=False,
                group_id=None,
                request_timeout_ms=30_000,
                **kafka_client_kwargs(),
            )
        except KafkaError as exc:
            raise UserError(
                f"no Kafka broker at {bootstrap} ({type(exc).__name__}): run `clets-watch stack up`"
            ) from None
        try:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                raise UserError(f"topic {topic!r} does not exist at {bootstrap}")
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            begin = consumer.beginning_offsets(tps, timeout_ms=30_000)
            end = consumer.end_offsets(tps, timeout_ms=30_000)
            start = dict(begin)
            stop = dict(end)
            if self.since_ms is not None:
                found = consumer.offsets_for_times(
                    {tp: max(0, self.since_ms - margin) for tp in tps}, timeout_ms=30_000
                )
                start = {tp: (found[tp].offset if found.get(tp) is not None else end[tp]) for tp in tps}
            if self.until_ms is not None:
                found = consumer.offsets_for_times(
                    {tp: self.until_ms + margin for tp in tps}, timeout_ms=30_000
                )
                stop = {tp: (found[tp].offset if found.get(tp) is not None else end[tp]) for tp in tps}
        finally:
            consumer.close()
        self.ranges = {tp.partition: (start[tp], max(start[tp], stop[tp])) for tp in tps}
        self.total = sum(b - a for a, b in self.ranges.values())
        self.read = 0

    def describe(self) -> str:
        parts = ", ".join(f"{p}:{a}-{b}" for p, (a, b) in sorted(self.ranges.items()))
        return f"kafka {self.bootstrap} topic {self.topic} offsets [{parts}]"

    def _partition(self, partition: int, start: int, stop: int) -> Iterator[tuple[int, int, int, bytes]]:
        from kafka import KafkaConsumer, TopicPartition

        if start >= stop:
            return
        tp = TopicPartition(self.topic, partition)
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id=f"clets-watch-replay-{partition}",
            enable_auto_commit=False,
            group_id=None,
            max_poll_records=5000,
            fetch_max_bytes=16 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            **kafka_client_kwargs(),
        )
        try:
            consumer.assign([tp])
            consumer.seek(tp, start)
            idle_since = time.monotonic()
            while True:
                batch = consumer.poll(timeout_ms=1000).get(tp, [])
                if not batch:
                    if consumer.position(tp) >= stop:
                        return
                    if time.monotonic() - idle_since > 60:
                        raise UserError(
                            f"{self.topic} partition {partition}: no records for 60 s at offset "
                            f"{consumer.position(tp)} (expected up to {stop})"
                        )
                    continue
                idle_since = time.monotonic()
                for r in batch:
                    if r.offset >= stop:
                        return
                    self.read += 1
                    yield r.timestamp, partition, r.offset, r.value
                if consumer.position(tp) >= stop:
                    return
        finally:
            consumer.close()

    def lines(self, progress: Progress) -> Iterator[tuple[bytes, str]]:
        streams = [self._partition(p, a, b) for p, (a, b) in sorted(self.ranges.items())]
        for ts, partition, offset, value in heapq.merge(*streams):
            progress.update(self.read)
            if self.since_ms is not None and ts < self.since_ms:
                continue
            if self.until_ms is not None and ts >= self.until_ms:
                continue
            progress.events += 1
            yield value, f"{self.topic}/{partition}/{offset}"
        progress.update(self.read)


# ------------------------------------------------------------------------------------ the command


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    if args.diff:
        return run_diff(args, out)
    if args.list_runs:
        return run_list(args, out)
    if args.from_kafka and args.input:
        raise UserError("give either --input archives or --from-kafka, not both")
    if not args.from_kafka and not args.input:
        raise UserError("nothing to replay: give --input FILE (repeatable) or --from-kafka")
    if not args.from_kafka and (args.since or args.until or args.topic or args.bootstrap):
        raise UserError("--topic, --bootstrap, --since and --until go with --from-kafka")
    for path in args.input or ():
        if path.is_dir():
            raise UserError(
                f"input {path} is a directory: give .jsonl or .jsonl.gz files (--input, repeatable)"
            )
        if not path.is_file():
            raise UserError(f"input file {path} does not exist")
    since = parse_time(args.since, flag="--since") if args.since else None
    until = parse_time(args.until, flag="--until") if args.until else None
    if since and until and until <= since:
        raise UserError(f"--until {args.until} is not after --since {args.since}")
    if args.run_id and not args.record:
        raise UserError("--run-id names a recorded run: add --record")
    store = _open_store(args) if args.record else None
    try:
        if store is not None and args.run_id and store.get_run(args.run_id) is not None:
            raise UserError(
                f"audit run {args.run_id!r} already exists in the database; choose another --run-id"
            )
        if args.workers < 1:
            raise UserError(f"--workers must be at least 1, got {args.workers}")
        pipeline, policy_version, key, factory = _build_with_factory(args)
        show = progress_enabled(args.progress, sys.stderr, quiet=args.json)
        if args.from_kafka:
            settings = get_settings()
            source = KafkaRange(
                args.bootstrap or settings.kafka_bootstrap,
                args.topic or settings.topic_queries,
                since,
                until,
                lateness_seconds=pipeline.config.allowed_lateness_seconds,
            )
            progress = Progress(source.total, "records", sys.stderr, enabled=show)
            lines = source.lines(progress)
            description = source.describe()
            kind = "kafka"
            done: Callable[[], int] = lambda: source.read
        else:
            total = sum(p.stat().st_size for p in args.input)
            progress = Progress(total, "bytes", sys.stderr, enabled=show)
            lines = archive_lines(list(args.input), progress)
            description = "archives " + ", ".join(str(p) for p in args.input)
            kind = "archive"
            done = lambda: total
        started = time.monotonic()
        settings = get_settings()
        try:
            dl_out = args.dead_letters.open("wb") if args.dead_letters else None
        except OSError as exc:
            raise UserError(
                f"cannot write --dead-letters {args.dead_letters}: {exc.strerror or exc}"
            ) from None
        watch = BadInputWatch(
            DeadLetterLimit(settings.dead_letter_max_ratio, settings.dead_letter_window), dl_out
        )
        tune_gc()
        freeze_gc()  # what start-up built stays out of the collector's sight
        try:
            if args.workers > 1:
                pooled = run_pool(
                    lines,
                    factory,
                    args.workers,
                    mode="result" if store is None else "tally",
                    config=pipeline.config,
                )
                for note in pooled.notes:
                    print(f"warning: {note}", file=sys.stderr)
                watch.observe_pooled(
                    pooled.lines, pooled.dead_letters
                )  # the same limit and file as one process
                if isinstance(pooled.merged, ReplayResult):
                    result = pooled.merged
                else:
                    tally = pooled.merged
            elif store is None:
                result = ReplayResult()
                result.stats = run_stream(lines, pipeline, watch.wrap(result.add))
            else:
                tally = AuditTally()
                tally.stats = run_stream(lines, pipeline, watch.wrap(tally.add))
        except ArchiveError as exc:
            raise UserError(str(exc)) from None
        except ReplayPoolError as exc:
            raise UserError(str(exc)) from None
        finally:
            progress.finish(done())
            if dl_out is not None:
                dl_out.close()
        seconds = time.monotonic() - started
        failed = watch.verdict()
        if watch.bad:
            more = f" ({watch.bad - len(watch.first_bad)} more)" if watch.bad > len(watch.first_bad) else ""
            where = (
                f"; all in {args.dead_letters}"
                if args.dead_letters
                else "; --dead-letters FILE lists them all"
            )
            print(
                f"bad input: {watch.bad} line(s): " + ", ".join(watch.first_bad) + more + where,
                file=sys.stderr,
            )
        if failed is not None:
            print(f"clets-watch replay: {failed}", file=sys.stderr)
        if store is None:
            if args.incidents:
                for incident in result.sorted_incidents():
                    out.write((incident_json(incident).decode() if args.json else incident.story) + "\n")
            elif args.json:
                for alert in result.sorted_alerts():
                    out.write(alert_json(alert).decode() + "\n")
            else:
                write_summary(result, out)
            return 3 if failed is not None else 0
        from sinks.audit import AuditError, NewRun, key_fingerprint

        run_id = args.run_id or f"replay-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
        try:
            row = store.write_run(
                NewRun(
                    run_id=run_id,
                    policy_version=policy_version,
                    rules_version=rules_version(pipeline),
                    input_kind=kind,
                    input_description=description,
                    key_fingerprint=key_fingerprint(key),
                    range_since=since,
                    range_until=until,
                    note=args.note,
                ),
                tally,
            )
        except AuditError as exc:
            raise UserError(str(exc)) from None
        summary = {
            **row.to_json(),
            "seconds": round(seconds, 3),
            "events_per_second": round(tally.stats.events / seconds, 1) if seconds > 0 else None,
        }
        if args.json:
            out.write(json.dumps(summary, sort_keys=True) + "\n")
        else:
            write_run_summary(summary, out)
        return 3 if failed is not None else 0
    finally:
        if store is not None:
            store.close()


def _access_decisions(args: argparse.Namespace) -> list[Any]:
    """Supervisors' suspend/restore decisions from the database (``--access-decisions`` or, when it
    exists, the settings database): the pipeline applies the one in force at each event's time."""
    from sqlalchemy.exc import SQLAlchemyError

    from sinks.access_decisions import load_decisions
    from sinks.db import SinkError, current_revision, database, sqlite_path

    url = getattr(
        args, "access_decisions", None
    )  # build_pipeline(args) may be given only the pipeline's flags
    if url == "none":
        return []
    if url is None:
        url = getattr(args, "db", None) or get_settings().database_url
        path = sqlite_path(url)
        if path is not None and not path.exists():
            return []
    try:
        with database(url, create=False) as engine:
            if current_revision(engine) is None:
                return []
            decisions = load_decisions(engine)
    except (SQLAlchemyError, SinkError) as exc:
        if getattr(args, "access_decisions", None) is None:
            return []  # a database without the decisions table (an older schema): none to apply
        raise UserError(f"cannot read access decisions from {url}: {exc}") from None
    if decisions:
        print(f"access decisions: {len(decisions)} applied by event time", file=sys.stderr)
    return list(decisions)


def _open_store(args: argparse.Namespace) -> Any:
    from sqlalchemy.exc import SQLAlchemyError

    from sinks.audit import AuditStore
    from sinks.db import SinkError

    url = args.db or get_settings().database_url
    try:
        return AuditStore(url)
    except (SinkError, SQLAlchemyError) as exc:
        raise UserError(f"cannot open the database {url.split('@')[-1]}: {exc}") from None


def write_run_summary(s: dict[str, Any], out: IO[str]) -> None:
    c = s["counts"]
    out.write(f"recorded audit run {s['run_id']}\n")
    out.write(f"  input:    {s['input']}\n")
    out.write(f"  policy:   v{s['policy_version']}   rules: {s['rules_version']}\n")
    out.write(
        f"  events:   {c['events']:,} from {s['first_event_at']} to {s['last_event_at']}  "
        f"({c['duplicates']} duplicates, {c['late']} late, {c['dead_letters']} dead letters)\n"
    )
    out.write("  verdicts: " + ", ".join(f"{k} {v:,}" for k, v in c["verdicts"].items()) + "\n")
    out.write(
        f"  alerts:   {c['alerts_fired']} fired of {c['alerts']}: "
        + ", ".join(f"{k} {v}" for k, v in c["alerts_by_rule"].items())
        + "\n"
    )
    out.write(f"  speed:    {s['events_per_second'] or 0:,.0f} events/s over {s['seconds']:.1f} s\n")
    out.write(f"next: clets-watch report --run {s['run_id']} --out DIR\n")


def run_list(args: argparse.Namespace, out: IO[str]) -> int:
    store = _open_store(args)
    try:
        runs = store.list_runs()
    finally:
        store.close()
    if args.json:
        for r in runs:
            out.write(json.dumps(r.to_json(), sort_keys=True) + "\n")
        return 0
    if not runs:
        out.write("no audit runs yet: clets-watch replay --input FILE --record\n")
        return 0
    out.write(f"{'RUN':<34} {'POLICY':<7} {'EVENTS':>10} {'ALERTS':>7}  INPUT\n")
    for r in runs:
        out.write(
            f"{r.run_id:<34} v{r.policy_version:<6} {r.counts.get('events', 0):>10,} "
            f"{r.counts.get('alerts_fired', 0):>7}  {r.input_description[:60]}\n"
        )
    return 0


def run_diff(args: argparse.Namespace, out: IO[str]) -> int:
    from sinks.audit import AuditError

    run_a, run_b = args.diff
    store = _open_store(args)
    try:
        diff = store.diff(run_a, run_b)
    except AuditError as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()
    if args.json:
        out.write(json.dumps(diff.to_json(), sort_keys=True) + "\n")
        return 0
    out.write(
        f"{run_a} vs {run_b}: {diff.same} alerts the same, {len(diff.only_a)} only in {run_a}, "
        f"{len(diff.only_b)} only in {run_b}, {len(diff.changed)} changed\n"
    )
    for label, items in ((f"only in {run_a}", diff.only_a), (f"only in {run_b}", diff.only_b)):
        if items:
            out.write(f"\n{label}:\n")
            for a in items[:DIFF_SHOWN]:
                out.write(
                    f"  {a['window_start']:<21} {a['rule']:<22} {a['ori']:<10} {a['severity']:<9} "
                    f"{a['alert_id']}\n"
                )
            if len(items) > DIFF_SHOWN:
                out.write(f"  … {len(items) - DIFF_SHOWN} more (use --json for all)\n")
    if diff.changed:
        out.write("\nchanged:\n")
        for a, _b, fields in diff.changed[:DIFF_SHOWN]:
            out.write(
                f"  {a['window_start']:<21} {a['rule']:<22} {a['ori']:<10} {a['alert_id']}: "
                f"{', '.join(fields)}\n"
            )
        if len(diff.changed) > DIFF_SHOWN:
            out.write(f"  … {len(diff.changed) - DIFF_SHOWN} more (use --json for all)\n")
    return 0


def write_summary(result: ReplayResult, out: IO[str]) -> None:
    s = result.stats
    out.write(
        f"events: {s.events}  duplicates: {s.duplicates}  late: {s.late}  "
        f"dead letters: {s.dead_letters}  aggregates: {s.aggregates} (+{s.amendments} amendments)\n"
    )
    alerts = result.sorted_alerts()
    fired = [a for a in alerts if a.status == "fired"]
    out.write(f"alerts: {len(fired)} fired, {len(alerts) - len(fired)} suppressed\n")
    reasons = result.dead_letters
    if reasons:
        out.write(
            "dead letters by reason: " + ", ".join(f"{r} {n}" for r, n in sorted(reasons.items())) + "\n"
        )
    by_rule = Counter((a.rule, a.severity) for a in fired)
    for (rule, severity), n in sorted(by_rule.items()):
        out.write(f"  {rule:<24} {severity:<9} {n}\n")
    if alerts:
        out.write("\n")
        out.write(f"{'WINDOW START':<21} {'SEVERITY':<9} {'RULE':<22} {'ORI':<10} SUMMARY\n")
        for a in alerts:
            summary = a.summary if len(a.summary) <= SUMMARY_WIDTH else a.summary[: SUMMARY_WIDTH - 1] + "…"
            status = "" if a.status == "fired" else " [suppressed]"
            out.write(f"{a.window_start:<21} {a.severity:<9} {a.rule:<22} {a.ori:<10} {summary}{status}\n")
    if result.recommendations:
        out.write("\naccess recommendations:\n")
        for rec in sorted(result.recommendations, key=lambda r: r.ori):  # per agency: same for any --workers
            out.write(
                f"  {rec.ori} {rec.previous} -> {rec.level}: {rec.action} (alerts: {', '.join(rec.alert_ids)})\n"
            )


__all__ = ["build_pipeline", "register", "replay_files", "run"]
