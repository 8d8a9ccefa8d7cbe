"""The offline loop behind ``clets-watch replay``: archive lines -> the same Pipeline -> results.

Pure apart from reading the archive files: no Kafka, no database. Archives are ``.jsonl`` or
``.jsonl.gz`` files with one query event per line; each event's source is ``<file name>:<line>``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import msgspec

from processors.dead_letter_limit import DeadLetterLimit, DeadLetterLimitExceeded
from processors.lines import LineReadError, archive_lines
from processors.pipeline import Pipeline, PipelineStats, StepResult
from processors.recommendation import Recommendation
from schemas import Aggregate, Alert, DeadLetter, Incident, dead_letter_message


class ArchiveError(ValueError):
    """An archive file cannot be read; the message names the file."""


@dataclass(slots=True)
class ReplayResult:
    alerts: list[Alert] = field(default_factory=list)
    aggregates: list[Aggregate] = field(default_factory=list)
    # dead letters by reason: counts only, never the letters (each holds up to a line's payload, so keeping
    # them would grow with the bad input); ``BadInputWatch`` streams them to --dead-letters as they come
    dead_letters: dict[str, int] = field(default_factory=dict)
    recommendations: list[Recommendation] = field(default_factory=list)
    incidents: dict[str, Incident] = field(default_factory=dict)  # incident id -> latest record
    stats: PipelineStats = field(default_factory=PipelineStats)

    def add(self, step: StepResult) -> None:
        self.alerts.extend(step.alerts)
        self.aggregates.extend(step.aggregates)
        for dead in step.dead_letters:
            self.dead_letters[dead.reason] = self.dead_letters.get(dead.reason, 0) + 1
        self.recommendations.extend(step.recommendations)
        for incident in step.incidents:
            self.incidents[incident.incident_id] = incident

    def sorted_incidents(self) -> list[Incident]:
        """Incidents in a deterministic order: severity, first window, incident id."""
        from processors.incidents import SEVERITY_RANK

        return sorted(
            self.incidents.values(),
            key=lambda i: (SEVERITY_RANK[i.severity], i.first_window_start, i.incident_id),
        )

    def sorted_alerts(self) -> list[Alert]:
        """Alerts in a deterministic order: window start, rule, key, alert id."""
        return sorted(self.alerts, key=lambda a: (a.window_start, a.rule, a.key, a.alert_id, a.status))


def iter_archive(path: Path) -> Iterator[tuple[bytes, str]]:
    """(raw line, source) for every non-blank line of a .jsonl or .jsonl.gz archive; a line longer than
    the event limit comes as a bounded ``OversizedLine`` (never read whole), refused by the decoder."""
    try:
        for lineno, line in archive_lines(path):
            yield line, f"{path.name}:{lineno}"
    except LineReadError as exc:
        raise ArchiveError(str(exc)) from exc


def replay_lines(lines: Iterable[tuple[bytes, str]], pipeline: Pipeline) -> ReplayResult:
    """Run (raw, source) lines through the pipeline, then close it (end of a bounded input)."""
    result = ReplayResult()
    for raw, source in lines:
        result.add(pipeline.process_raw(raw, source=source))
    result.add(pipeline.close())
    result.stats = pipeline.stats
    return result


def replay_files(paths: Iterable[Path], pipeline: Pipeline) -> ReplayResult:
    """Replay archive files in the order given, as one stream."""

    def lines() -> Iterator[tuple[bytes, str]]:
        for path in paths:
            yield from iter_archive(path)

    return replay_lines(lines(), pipeline)


_json = msgspec.json.Encoder(order="sorted")


@dataclass
class BadInputWatch:
    """The worker's bad-input limit (``DeadLetterLimit``) applied to a replay, line by line: late events
    are not bad input. Keeps the first bad lines' sources, and writes every dead letter to ``out``."""

    limit: DeadLetterLimit
    out: IO[bytes] | None = None
    first_bad: list[str] = field(default_factory=list)
    good: int = 0
    bad: int = 0
    exceeded: str | None = None
    _pending: list[int] = field(default_factory=lambda: [0, 0])

    def wrap(self, consume: Callable[[StepResult], None]) -> Callable[[StepResult], None]:
        def watched(step: StepResult) -> None:
            consume(step)
            self.observe(step)

        return watched

    def observe(self, step: StepResult) -> None:
        is_bad = self._dead_letters(step.dead_letters)
        if not is_bad and step.processed is None and not step.duplicate:
            return  # the closing step, or nothing read
        self._count_line(is_bad)

    def observe_pooled(self, lines: int, dead_letters: Sequence[tuple[int, DeadLetter]]) -> None:
        """The same watch over a ``--workers N`` run: ``lines`` lines were read (each one step of one
        pipeline), and every process's dead letters come tagged with the line they came from; in input
        order they give the same counts, first bad lines and dead-letter file as one process."""
        by_line: dict[int, list[DeadLetter]] = {}
        for n, dl in sorted(dead_letters, key=lambda item: item[0]):  # stable: a line's own order kept
            by_line.setdefault(n, []).append(dl)
        for n in range(lines):
            dls = by_line.pop(n, None)
            self._count_line(self._dead_letters(dls) if dls else False)
        for n in sorted(by_line):  # the closing step's: written, not counted
            self._dead_letters(by_line[n])

    def _dead_letters(self, dead_letters: Iterable[DeadLetter]) -> bool:
        is_bad = False
        for dl in dead_letters:
            if self.out is not None:
                self.out.write(dead_letter_message(dl) + b"\n")
            if dl.reason != "late":
                is_bad = True
                if len(self.first_bad) < 10:
                    self.first_bad.append(f"{dl.source} ({dl.reason})")
        return is_bad

    def _count_line(self, is_bad: bool) -> None:
        pending = self._pending
        pending[is_bad] += 1
        if is_bad:
            self.bad += 1
        else:
            self.good += 1
        if pending[0] + pending[1] >= 256:
            self.flush()

    def flush(self) -> None:
        good, bad = self._pending
        self._pending = [0, 0]
        if self.exceeded is not None:
            return
        try:
            self.limit.record(good=good, bad=bad)
        except DeadLetterLimitExceeded as exc:
            self.exceeded = str(exc)

    def verdict(self) -> str | None:
        """Why the replay must fail (exit 3), or None: past the limit over the last ``window`` lines, or,
        for an input shorter than the window, over all of it."""
        self.flush()
        if self.exceeded is not None:
            return self.exceeded
        total = self.good + self.bad
        if total and total < self.limit.window and self.bad / total > self.limit.max_ratio:
            return (
                f"{self.bad} of {total} lines were bad input ({self.bad / total:.0%} > "
                f"{self.limit.max_ratio:.0%}): wrong file or format?"
            )
        return None


def alert_json(alert: Alert) -> bytes:
    """One alert as a JSON line body with sorted keys (byte-identical across runs)."""
    return _json.encode(alert)


def incident_json(incident: Incident) -> bytes:
    """One incident as a JSON line body with sorted keys (byte-identical across runs)."""
    return _json.encode(incident)


# ------------------------------------------------------------------ audit replays (streaming tally)

PACIFIC_TZ = "America/Los_Angeles"


class _MonthOf:
    """Pacific calendar month (``YYYY-MM``) of a UTC time; cached per UTC hour (Pacific offsets are whole hours)."""

    __slots__ = ("_bucket", "_month", "_tz")

    def __init__(self) -> None:
        from zoneinfo import ZoneInfo

        self._tz = ZoneInfo(PACIFIC_TZ)
        self._bucket = -1
        self._month = ""

    def __call__(self, when: dt.datetime) -> str:
        bucket = int(when.timestamp()) // 3600
        if bucket != self._bucket:
            self._bucket = bucket
            self._month = dt.datetime.fromtimestamp(bucket * 3600, self._tz).strftime("%Y-%m")
        return self._month


#: (month, ori, component, department, data_source, purpose, verdict)
CountKey = tuple[str, str, str | None, str | None, str, str, str]


@dataclass(slots=True)
class OperatorTally:
    queries: int = 0
    prohibited: int = 0
    review: int = 0


@dataclass(slots=True)
class AuditTally:
    """What an audit replay keeps of a stream, in memory bounded by agencies x months, not by events:
    verdict counts per (Pacific month, agency, data source, purpose, verdict), per-operator (pseudonym)
    flag counts, the alerts by id, dead letters by reason, and the event-time range."""

    counts: dict[CountKey, int] = field(default_factory=dict)
    operators: dict[tuple[str, str], OperatorTally] = field(default_factory=dict)
    alerts: dict[str, Alert] = field(default_factory=dict)
    dead_letters: dict[str, int] = field(default_factory=dict)
    first_event_at: dt.datetime | None = None
    last_event_at: dt.datetime | None = None
    stats: PipelineStats = field(default_factory=PipelineStats)
    _month: _MonthOf = field(default_factory=_MonthOf)

    def add(self, step: StepResult) -> None:
        event = step.processed
        if event is not None:
            when = event.occurred_at
            if self.first_event_at is None or when < self.first_event_at:
                self.first_event_at = when
            if self.last_event_at is None or when > self.last_event_at:
                self.last_event_at = when
            key: CountKey = (
                self._month(when),
                event.ori,
                event.component,
                event.department,
                event.data_source,
                event.purpose,
                event.verdict,
            )
            self.counts[key] = self.counts.get(key, 0) + 1
            op = self.operators.get((event.ori, event.operator))
            if op is None:
                op = self.operators[(event.ori, event.operator)] = OperatorTally()
            op.queries += 1
            if event.verdict == "prohibited":
                op.prohibited += 1
            elif event.verdict == "review":
                op.review += 1
        for dead in step.dead_letters:
            self.dead_letters[dead.reason] = self.dead_letters.get(dead.reason, 0) + 1
        for alert in step.alerts:
            prev = self.alerts.get(alert.alert_id)
            # an id seen fired stays fired; otherwise the latest emission wins
            if prev is None or not (prev.status == "fired" and alert.status == "suppressed"):
                self.alerts[alert.alert_id] = alert

    def sorted_alerts(self) -> list[Alert]:
        return sorted(self.alerts.values(), key=lambda a: (a.window_start, a.rule, a.key, a.alert_id))

    def month_of(self, when: dt.datetime) -> str:
        return self._month(when)


def run_stream(
    lines: Iterable[tuple[bytes, str]],
    pipeline: Pipeline,
    consume: Callable[[StepResult], None],
) -> PipelineStats:
    """Run (raw, source) lines through the pipeline, handing every step (and the closing step) to
    ``consume`` instead of keeping them: memory stays bounded for a year of events."""
    for raw, source in lines:
        consume(pipeline.process_raw(raw, source=source))
    consume(pipeline.close())
    return pipeline.stats


def tally_stream(lines: Iterable[tuple[bytes, str]], pipeline: Pipeline) -> AuditTally:
    """An audit replay of a bounded stream into an ``AuditTally``."""
    tally = AuditTally()
    tally.stats = run_stream(lines, pipeline, tally.add)
    return tally
