"""``clets-watch replay --workers N``: one stream split by agency (ORI) over N processes, merged exactly.

The parent process reads the stream and runs the pipeline's front on it, exactly as one pipeline
would: it decodes every line (an invalid line changes no state), drops duplicates with the same
bounded set of seen event ids, and keeps the stream's largest accepted event time. Every accepted
event goes to the process of its agency (ORI; an agency is assigned on its first event to the least
loaded process, as a Kafka topic's partitions are keyed by ORI) together with the largest accepted
event time *before* it; the process first advances its pipeline's watermark to that
time (``Pipeline.advance_watermark``), so its windows close, its events are late and its amendment
retention runs exactly as in one pipeline over the whole stream. All state of the core is per agency
(windows, rule history, suppression and recommendations are keyed by ORI), so each process holds the
complete state of its agencies. At the end every process closes its windows and returns its results,
which are merged in an order that does not depend on N: the output of ``--workers 2`` is byte-identical
to ``--workers 1``.

One bound is global and cannot be split: ``repeat_subject`` tracks at most ``max_tracked``
operator/subject pairs, least recently used dropped first. Each process keeps its own ``max_tracked``;
the processes report how many pairs they tracked at every closed window, and when the sum ever went
over the bound (so one pipeline would have dropped pairs the processes kept) the merged result says so
(``ReplayPoolResult.exact`` is False, and ``clets-watch replay`` warns on stderr).

Batches are handed over through bounded queues (a few batches per process), so memory stays bounded
and a slow process makes the reader wait instead of buffering the stream — the way arroyo's
``RunTaskWithMultiprocessing`` ships batches to a pool and keeps their order.
"""

from __future__ import annotations

import bisect
import multiprocessing as mp
import queue
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Final, Literal

from processors.gc_tuning import freeze_gc, tune_gc
from processors.pipeline import Pipeline, PipelineConfig, PipelineStats, StepResult, content_digest
from processors.replay import AuditTally, ReplayResult
from processors.windows import US_PER_S, WindowSpec, to_us
from schemas import DeadLetter, InvalidEvent, decode_event

BATCH_LINES: Final = 2000
QUEUE_BATCHES: Final = 4
PipelineFactory = Callable[[], Pipeline]
Mode = Literal["result", "tally"]
#: the digests of an event id's versions, when a line is a new version of an id seen before: (event id,
#: pane of its first version, digests of every earlier version) — see ``Pipeline.note_seen``
Seen = tuple[str, int, bytes]
#: (raw line, source, largest accepted event time of the stream before this line or None, Seen or None,
#: the line's number in the stream)
Line = tuple[bytes, str, int | None, Seen | None, int]
#: the closing step's dead letters come after every line's
CLOSING: Final = 1 << 62


class ReplayPoolError(RuntimeError):
    """A replay process failed; the message names the process and its error."""


class AgencyRouter:
    """Which process replays an agency: on its first event, the process that has been given the fewest
    events so far (ties: the lowest index); the same from then on. Any assignment of whole agencies gives
    the same output (each agency's state lives in one process); this one balances the load, which a hash
    of the ORI does not: agencies differ in size (on the bench's stream crc32 % 2 gave one process 80%)."""

    def __init__(self, workers: int) -> None:
        self.load = [0] * workers
        self._route: dict[str, int] = {}

    def __call__(self, ori: str) -> int:
        i = self._route.get(ori)
        if i is None:
            low = min(self.load)
            i = self._route[ori] = self.load.index(low)
        self.load[i] += 1
        return i


class Sequencer:
    """The front of one pipeline over the whole stream: which lines are accepted events, which are
    duplicates, and the largest accepted event time. Mirrors ``Pipeline._process`` up to its
    watermark (the same seen-set with the same amendment retention); it keeps no window state."""

    def __init__(self, config: PipelineConfig) -> None:
        self._spec = WindowSpec(config.window_seconds)
        self._size = config.window_seconds
        self._lateness_us = config.allowed_lateness_seconds * US_PER_S
        self._retention = config.amendment_retention_seconds
        self.max_event_us: int | None = None
        self._closed_until: int | None = None
        self._seen: dict[str, int] = {}
        self._seen_by_start: dict[int, list[str]] = {}
        self._digests: dict[str, bytes] = {}
        self.duplicates = 0
        self.last_duplicate = False
        self.last_seen: Seen | None = None

    def accept(self, raw: bytes) -> str | None:
        """The ORI of an accepted event; None for an invalid line or an exact duplicate (then
        ``last_duplicate``). A new version of an id seen before (other content) is accepted, with
        ``last_seen`` set: its process must know the earlier versions to dead-letter it as the conflicting
        duplicate it is (``Pipeline._check_duplicate``: an id never hides another query)."""
        self.last_duplicate = False
        self.last_seen = None
        try:
            event = decode_event(raw)
        except InvalidEvent:
            return None
        ts_us = to_us(event.occurred_at)
        pane_start = self._spec.starts_for(ts_us)[0]
        first = self._seen.get(event.event_id)
        if first is not None:
            digest = content_digest(event)
            known = self._digests[event.event_id]
            if any(known[i : i + len(digest)] == digest for i in range(0, len(known), len(digest))):
                self.duplicates += 1
                self.last_duplicate = True
                return None
            self.last_seen = (event.event_id, first, known)
            self._digests[event.event_id] = known + digest
        floor = None if self._closed_until is None else self._closed_until - self._retention
        if first is None and (floor is None or pane_start + self._size > floor):  # within the retention
            self._seen[event.event_id] = pane_start
            self._seen_by_start.setdefault(pane_start, []).append(event.event_id)
            self._digests[event.event_id] = content_digest(event)
        if self.max_event_us is None or ts_us > self.max_event_us:
            self.max_event_us = ts_us
            limit = ((ts_us - self._lateness_us) // US_PER_S) // self._size * self._size
            if self._closed_until is None or limit > self._closed_until:
                self._closed_until = limit
                self._evict(limit - self._retention)
        return event.ori

    def _evict(self, floor: int) -> None:
        for start in [s for s in self._seen_by_start if s + self._size <= floor]:
            for event_id in self._seen_by_start.pop(start):
                self._seen.pop(event_id, None)
                self._digests.pop(event_id, None)


@dataclass(slots=True)
class ReplayPoolResult:
    """The merged results of a pool run: a ``ReplayResult`` or an ``AuditTally``, and whether the split
    was provably exact (see the module's note on ``repeat_subject``)."""

    merged: ReplayResult | AuditTally
    exact: bool = True
    notes: list[str] = field(default_factory=list)
    lines: int = 0  #: lines read (each one step of one pipeline over the stream)
    #: every dead letter with the number of the line it came from (``BadInputWatch.observe_pooled``)
    dead_letters: list[tuple[int, DeadLetter]] = field(default_factory=list)


def _tracked_pairs(pipeline: Pipeline) -> Callable[[], int] | None:
    for rule in pipeline.rules:
        if rule.rule_id == "repeat_subject":
            state = getattr(rule, "_state", None)
            if state is not None and hasattr(state, "tracks"):
                return lambda: len(rule._state.tracks)  # type: ignore[attr-defined]
    return None


def _max_tracked(pipeline: Pipeline) -> int | None:
    for rule in pipeline.rules:
        if rule.rule_id == "repeat_subject":
            value = getattr(rule.params, "max_tracked", None)
            return value if isinstance(value, int) else None
    return None


def _worker(index: int, factory: PipelineFactory, mode: Mode, inbox: Any, outbox: Connection) -> None:
    try:
        tune_gc()
        pipeline = factory()
        freeze_gc()
        sink: ReplayResult | AuditTally = ReplayResult() if mode == "result" else AuditTally()
        add = sink.add
        tracked = _tracked_pairs(pipeline)
        peaks: dict[int, int] = {}  # closed pane start -> tracked pairs after it (repeat_subject)
        process_raw = pipeline.process_raw
        synced: int | None = None

        def note_tracked() -> None:
            closed = pipeline._panes.closed_until
            if tracked is not None and closed is not None:
                peaks[closed] = tracked()

        tagged: list[tuple[int, DeadLetter]] = []  # every dead letter with the line it came from

        def take(step: StepResult, line: int) -> None:
            add(step)
            for dl in step.dead_letters:
                tagged.append((line, dl))

        while True:
            item = inbox.get()
            if item is None or isinstance(item, int):
                if isinstance(item, int) and item != synced:
                    take(pipeline.advance_watermark(item), CLOSING)
                take(pipeline.close(), CLOSING)
                note_tracked()
                break
            for raw, source, before, seen, line in item:
                if before is not None and before != synced:
                    synced = before
                    step = pipeline.advance_watermark(before)
                    if (
                        step.alerts
                        or step.aggregates
                        or step.recommendations
                        or step.incidents
                        or step.dead_letters
                    ):
                        take(step, line)
                        note_tracked()
                if seen is not None:
                    pipeline.note_seen(*seen)
                take(process_raw(raw, source=source), line)
            note_tracked()
        sink.stats = pipeline.stats
        outbox.send(("ok", sink, peaks, tagged))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        outbox.send(("error", f"replay process {index}: {type(exc).__name__}: {exc}", traceback.format_exc()))
    finally:
        outbox.close()


def _sum_stats(stats: Iterable[PipelineStats], duplicates: int) -> PipelineStats:
    totals: dict[str, int] = {}
    for s in stats:
        for k, v in s.as_dict().items():
            totals[k] = totals.get(k, 0) + v
    totals["duplicates"] = totals.get("duplicates", 0) + duplicates
    return PipelineStats(**totals)


def merge_results(parts: list[ReplayResult], duplicates: int = 0) -> ReplayResult:
    """One ``ReplayResult`` from per-agency parts: lists concatenated (their printed orders are sorted:
    alerts by window, rule, key and id; recommendations by agency, each agency's in emission order)."""
    out = ReplayResult()
    for part in parts:
        out.alerts.extend(part.alerts)
        out.aggregates.extend(part.aggregates)
        for reason, n in part.dead_letters.items():
            out.dead_letters[reason] = out.dead_letters.get(reason, 0) + n
        out.recommendations.extend(part.recommendations)
        out.incidents.update(part.incidents)  # disjoint: an incident belongs to one agency's process
    out.recommendations.sort(key=lambda r: r.ori)
    out.stats = _sum_stats((p.stats for p in parts), duplicates)
    return out


def merge_tallies(parts: list[AuditTally], duplicates: int = 0) -> AuditTally:
    """One ``AuditTally`` from per-agency parts (their keys are disjoint but for the counts' months)."""
    out = AuditTally()
    for part in parts:
        for key, n in part.counts.items():
            out.counts[key] = out.counts.get(key, 0) + n
        out.operators.update(part.operators)
        out.alerts.update(part.alerts)
        for reason, n in part.dead_letters.items():
            out.dead_letters[reason] = out.dead_letters.get(reason, 0) + n
        for when in (part.first_event_at, part.last_event_at):
            if when is None:
                continue
            if out.first_event_at is None or when < out.first_event_at:
                out.first_event_at = when
            if out.last_event_at is None or when > out.last_event_at:
                out.last_event_at = when
    out.counts = dict(sorted(out.counts.items(), key=lambda kv: tuple("" if v is None else v for v in kv[0])))
    out.operators = dict(sorted(out.operators.items()))
    out.alerts = dict(sorted(out.alerts.items()))
    out.dead_letters = dict(sorted(out.dead_letters.items()))
    out.stats = _sum_stats((p.stats for p in parts), duplicates)
    return out


def run_pool(
    lines: Iterable[tuple[bytes, str]],
    factory: PipelineFactory,
    workers: int,
    *,
    mode: Mode = "result",
    config: PipelineConfig | None = None,
) -> ReplayPoolResult:
    """Replay ``lines`` over ``workers`` processes, each with a pipeline from ``factory`` (called in the
    process; ``config`` must be the pipelines' window configuration), and merge their results."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    ctx = mp.get_context("fork")
    probe = factory()
    config = config or probe.config
    max_tracked = _max_tracked(probe)
    del probe
    inboxes = [ctx.Queue(maxsize=QUEUE_BATCHES) for _ in range(workers)]
    pipes = [ctx.Pipe(duplex=False) for _ in range(workers)]
    procs = [
        ctx.Process(
            target=_worker,
            args=(i, factory, mode, inboxes[i], pipes[i][1]),
            name=f"clets-watch-replay-{i}",
            daemon=True,
        )
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    for _reader, writer in pipes:
        writer.close()
    ok = False
    try:
        seq = Sequencer(config)
        route = AgencyRouter(workers)
        batches: list[list[Line]] = [[] for _ in range(workers)]

        def put(i: int, item: Any) -> None:
            while True:
                try:
                    inboxes[i].put(item, timeout=1.0)
                    return
                except queue.Full:
                    if not procs[i].is_alive():
                        _raise_from(i, pipes[i][0])

        count = 0
        for count, (raw, source) in enumerate(lines, start=1):
            before = seq.max_event_us
            ori = seq.accept(raw)
            if ori is None:
                if seq.last_duplicate:
                    continue
                i = 0  # an invalid line: its dead letter does not depend on state
            else:
                i = route(ori)
            batch = batches[i]
            batch.append((raw, source, before, seq.last_seen, count - 1))
            if len(batch) >= BATCH_LINES:
                put(i, batch)
                batches[i] = []
        for i in range(workers):
            if batches[i]:
                put(i, batches[i])
            put(i, seq.max_event_us)  # the end: the stream's last watermark, then close
        answers = []
        for i in range(workers):
            answers.append(_receive(i, pipes[i][0]))
        for proc in procs:
            proc.join()
        ok = True
    finally:
        if not ok:
            for proc in procs:
                if proc.is_alive():
                    proc.terminate()
            for proc in procs:
                proc.join(5)
        for reader, _writer in pipes:
            reader.close()
    parts = [a[0] for a in answers]
    peak = _peak_tracked([a[1] for a in answers])
    merged: ReplayResult | AuditTally
    if mode == "result":
        merged = merge_results([p for p in parts if isinstance(p, ReplayResult)], seq.duplicates)
    else:
        merged = merge_tallies([p for p in parts if isinstance(p, AuditTally)], seq.duplicates)
    tagged = sorted((item for a in answers for item in a[2]), key=lambda item: item[0])
    result = ReplayPoolResult(merged, lines=count, dead_letters=tagged)
    if workers > 1 and max_tracked is not None and peak > max_tracked:
        result.exact = False
        result.notes.append(
            f"repeat_subject tracked up to {peak:,} operator/subject pairs across the "
            f"{workers} processes, more than its max_tracked {max_tracked:,}: one process would have dropped "
            "the least recently used pairs, so its repeat_subject alerts may differ; replay with --workers 1 "
            "(or raise max_tracked) for the exact result"
        )
    return result


def _peak_tracked(series: list[dict[int, int]]) -> int:
    """The largest total of tracked pairs over the closed-window positions of all processes; between
    two of its records a process's count is the earlier one (tracks change only when windows close)."""
    keyed = [sorted(s.items()) for s in series]
    peak = 0
    for closed in sorted({c for s in series for c in s}):
        total = 0
        for items in keyed:
            at = bisect.bisect_right(items, (closed, float("inf"))) - 1
            if at >= 0:
                total += items[at][1]
        peak = max(peak, total)
    return peak


def _receive(index: int, reader: Connection) -> tuple[Any, dict[int, int], list[tuple[int, DeadLetter]]]:
    try:
        answer = reader.recv()
    except EOFError:
        raise ReplayPoolError(f"replay process {index} exited without a result") from None
    if answer[0] != "ok":
        raise ReplayPoolError(f"{answer[1]}\n{answer[2]}")
    return answer[1], answer[2], answer[3]


def _raise_from(index: int, reader: Connection) -> None:
    if reader.poll(0):
        _receive(index, reader)
    raise ReplayPoolError(f"replay process {index} exited while the stream was still being read")
