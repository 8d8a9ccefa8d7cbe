"""The Faust adapter: a thin agent that feeds the pure core and hands its results to the sinks.

No policy, window or rule logic lives here. Per batch (``stream.noack_take``):
records -> ``PartitionedPipelines.process`` -> one database transaction (outputs, and every
``checkpoint_interval_seconds`` the per-partition core state with its next offset), written in
the background while the next batch is processed -> dead letters and alerts to their topics ->
metrics. Events are acked — and so their offsets become
committable — only once a checkpoint covering them is in the database: after a crash the worker
resumes from the checkpoint and reprocesses what came after it, which gives the same outputs
(deterministic core, idempotent sinks): nothing lost, nothing doubled.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import faust
import msgspec
from faust.types import TP

from clets_watch.kafka_security import faust_credentials
from clets_watch.settings import Settings
from processors.agencies import AgencyRegistry
from processors.batch import BatchOutput, PartitionedPipelines, Record, TopicPartition
from processors.build import build_pipeline
from processors.dead_letter_limit import DeadLetterLimit, DeadLetterLimitExceeded
from processors.pipeline import Pipeline
from processors.recommendation import Recommendation
from schemas import AccessDecision, Alert, DeadLetter, Incident, dead_letter_message
from sinks.alertmanager import AlertmanagerClient, AlertmanagerError
from sinks.db import open_engine
from sinks.metrics import Metrics
from sinks.recommendations import RecommendationStore
from sinks.writer import BatchWriter, Checkpoint, SinkBatch, is_transient

log = logging.getLogger("clets_watch.worker")
T = TypeVar("T")

BATCH_MAX = 5000
BATCH_WITHIN_SECONDS = 0.25
MAX_WRITES_IN_FLIGHT = 2
_encode = msgspec.json.Encoder().encode


def _written_at(timestamp: float | None) -> dt.datetime | None:
    """Faust gives the Kafka record timestamp in seconds (None or <= 0 when the producer set none)."""
    if not timestamp or timestamp <= 0:
        return None
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)


@dataclass
class WorkerRuntime:
    """What the agent needs; built once per worker process."""

    settings: Settings
    pipelines: PartitionedPipelines
    sink: BatchWriter
    metrics: Metrics
    key_note: str
    registry: AgencyRegistry
    executor: ThreadPoolExecutor
    alertmanager: AlertmanagerClient | None = None
    last_checkpoint: float = field(default_factory=time.monotonic)
    dirty: set[TopicPartition] = field(default_factory=set)  # partitions changed since their checkpoint
    pending: list[Any] = field(default_factory=list)  # events written, waiting for a checkpoint to ack
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one batch or checkpoint at a time
    stream: Any = None
    checkpoint_cost: float = 0.0  # seconds the last snapshot took
    in_flight: list[asyncio.Future[None]] = field(default_factory=list)  # batch writes not yet confirmed
    dead_letter_limit: DeadLetterLimit = field(default_factory=DeadLetterLimit)
    fatal: str | None = None  # why the worker stopped itself, if it did
    decisions: list[AccessDecision] = field(
        default_factory=list
    )  # every access decision known (all pipelines)
    decision_reader: Any = None  # sinks.access_decisions.DecisionReader, opened on the first batch
    # sends dead letters to the dead-letter topic; set by create_app
    send_dead_letters: Callable[[list[DeadLetter]], Awaitable[None]] | None = None

    @classmethod
    def build(cls, settings: Settings, *, metrics: Metrics | None = None) -> WorkerRuntime:
        built = build_pipeline(settings)  # the same builder as replay: same alerts for the same events
        registry, note = built.registry, built.key_note
        sink = BatchWriter(open_engine(settings.database_url))
        group = settings.consumer_group
        from sinks.access_decisions import load_decisions

        decisions = load_decisions(sink.engine)  # kept in the database; the topic adds what comes later

        def with_decisions(p: Pipeline) -> Pipeline:
            for d in decisions:
                p.apply_decision(d)
            return p

        def factory() -> Pipeline:
            return with_decisions(built.new())

        def restore(state: bytes) -> Pipeline:
            return with_decisions(built.restore(state))

        def resume(topic: str, partition: int) -> tuple[bytes, int] | None:
            saved = sink.load_checkpoint(group, topic, partition)
            if saved is None:
                return None
            log.info("resuming %s/%d from offset %d", topic, partition, saved.next_offset)
            return saved.state, saved.next_offset

        metrics = metrics or Metrics()
        metrics.bound_labels(registry, built.known_keys.message_key_label)
        for agency in registry:
            metrics.declare_agency(agency.ori, agency.component)
        return cls(
            settings=settings,
            pipelines=PartitionedPipelines(factory, resume=resume, restore=restore),
            sink=sink,
            metrics=metrics,
            key_note=note,
            registry=registry,
            # one thread: database writes stay in batch order
            executor=ThreadPoolExecutor(max_workers=1, thread_name_prefix="clets-watch-sink"),
            alertmanager=(
                AlertmanagerClient(settings.alertmanager_url, link_base=settings.console_url)
                if settings.alertmanager_url
                else None
            ),
            dead_letter_limit=DeadLetterLimit(settings.dead_letter_max_ratio, settings.dead_letter_window),
            decisions=decisions,
        )

    def checkpoint_due(self) -> bool:
        """Every ``checkpoint_interval_seconds``; but a checkpoint never takes more than ~5% of the time:
        with a large state (a busy hour's seen event ids) the interval grows to 20x what the last took."""
        interval = self.settings.checkpoint_interval_seconds
        if interval <= 0:
            return True
        return time.monotonic() - self.last_checkpoint >= max(interval, 20 * self.checkpoint_cost)

    def sink_batch(self, out: BatchOutput, *, checkpoint: bool) -> SinkBatch:
        checkpoints = []
        if checkpoint:
            began = time.perf_counter()
            group = self.settings.consumer_group
            checkpoints = [
                Checkpoint(group, topic, partition, next_offset, state)
                for topic, partition, next_offset, state in self.pipelines.checkpoints(sorted(self.dirty))
            ]
            self.checkpoint_cost = time.perf_counter() - began
        return SinkBatch(
            processed=out.processed,
            aggregates=out.aggregates,
            alerts=out.alerts,
            dead_letters=out.dead_letters,
            checkpoints=checkpoints,
            incidents=out.incidents,
        )

    async def write_with_retry(self, batch: SinkBatch, *, pending: int, max_delay: float = 30.0) -> None:
        """Write one batch. A transient error (connection, lock timeout): retry with backoff and hold the
        offsets. A refused record: the sink writes the rest and dead-letters it (``sink_rejected``) in the
        database; it goes to the dead-letter topic too, like every dead letter."""
        loop = asyncio.get_running_loop()
        delay = 0.5
        while True:
            try:
                written = await loop.run_in_executor(self.executor, self.sink.write_batch_resilient, batch)
            except Exception as exc:  # noqa: BLE001 - any database error: keep the batch, retry
                kind = "transient" if is_transient(exc) else "error"
                self.metrics.observe_sink_retry(kind)
                self.metrics.set_sink_backlog(pending)
                log.warning(
                    "database write failed (%s, %s: %s); retrying in %.1fs",
                    kind,
                    type(exc).__name__,
                    str(exc).splitlines()[0][:200] if str(exc) else "",
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_delay)
                continue
            self.metrics.set_sink_backlog(0)
            if written.rejected:
                self.metrics.observe_dead_letters(written.rejected)
                for dl in written.rejected:
                    log.warning(
                        "database refused a record (dead-lettered as sink_rejected): %s %s",
                        dl.source,
                        dl.detail[:300],
                    )
                if self.send_dead_letters is not None:
                    await self.send_dead_letters(written.rejected)
            return

    async def submit_write(self, batch: SinkBatch) -> None:
        """Write a batch in the background, so the next batch is processed while this one is written
        (one writer thread keeps them in order); at most MAX_WRITES_IN_FLIGHT wait at once."""
        task = asyncio.ensure_future(self.write_with_retry(batch, pending=len(self.pending)))
        self.in_flight.append(task)
        while len(self.in_flight) > MAX_WRITES_IN_FLIGHT:
            await self.in_flight.pop(0)

    async def drain_writes(self) -> None:
        """Wait until every submitted batch is in the database."""
        while self.in_flight:
            await self.in_flight.pop(0)

    async def ack_pending(self) -> None:
        """A checkpoint covering the pending events is in the database: their offsets may be committed."""
        for ev in self.pending:
            await self.stream.ack(ev)
        self.pending.clear()
        self.dirty.clear()
        self.last_checkpoint = time.monotonic()

    async def checkpoint_idle(self) -> None:
        """Called by a timer: when the stream has gone quiet, checkpoint and ack what is pending."""
        async with self.lock:
            if not self.pending or self.stream is None or not self.checkpoint_due():
                return
            await self.submit_write(self.sink_batch(BatchOutput(), checkpoint=True))
            await self.drain_writes()
            await self.ack_pending()

    async def apply_recommendations(self, recommendations: list[Recommendation]) -> None:
        """Record access-recommendation changes (a repeated change is a no-op)."""
        if not recommendations:
            return
        loop = asyncio.get_running_loop()

        def write() -> None:
            store = RecommendationStore(self.sink.engine)  # the writer's database
            current = {r.ori: r.state for r in store.current()}
            for rec in recommendations:
                agency = self.registry.get(rec.ori)
                component = agency.component if agency else None
                self.metrics.set_recommendation(rec.ori, component, rec.level)
                if current.get(rec.ori, "normal") == rec.level:
                    continue
                store.recommend(
                    rec.ori,
                    rec.level,
                    reason=rec.reason or rec.action,
                    actor=rec.by,
                    alert_ids=rec.alert_ids,
                    component=component,
                )
                current[rec.ori] = rec.level

        await loop.run_in_executor(self.executor, write)

    def refresh_decisions(self) -> None:
        """Apply the access decisions published on clets.access-decisions since the last batch (the
        first call reads the topic from its beginning) to every pipeline, and keep them for new ones."""
        from clets_watch.kafka_security import kafka_client_kwargs
        from sinks.access_decisions import DecisionReader

        if self.decision_reader is None:
            self.decision_reader = DecisionReader(
                self.settings.kafka_bootstrap,
                self.settings.topic_access_decisions,
                kafka_client_kwargs(self.settings),
            )
        # read to the topic's end before every batch: a decision published before a query was written
        # applies to it (one ListOffsets request per batch)
        new = self.decision_reader.catch_up()
        known = {d.decision_id for d in self.decisions}
        for d in new:
            if d.decision_id in known:
                continue
            known.add(d.decision_id)
            self.decisions.append(d)
            log.info(
                "access decision %s: %s %s from %s by %s",
                d.decision_id,
                d.action,
                d.ori,
                d.effective_at,
                d.by,
            )
            for _tp, pipeline in self.pipelines.items():  # noqa: PERF102 - PartitionedPipelines has no values()
                pipeline.apply_decision(d)

    async def forward_incidents(self, incidents: list[Incident]) -> None:
        """One Alertmanager alert per incident, updated as it grows, resolved when it closes."""
        if self.alertmanager is not None:
            await self._to_alertmanager(self.alertmanager.post_incidents, incidents, "incident(s)")

    async def forward_alerts(self, alerts: list[Alert]) -> None:
        if self.alertmanager is not None:
            await self._to_alertmanager(self.alertmanager.post, alerts, "alert(s)")

    async def _to_alertmanager(self, post: Callable[[list[T]], object], items: list[T], what: str) -> None:
        if not items:
            return
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self.executor, post, items)
        except AlertmanagerError as exc:  # on-call still has Prometheus' own alerts; say it, go on
            log.warning("could not push %d %s to Alertmanager: %s", len(items), what, exc)


def create_app(settings: Settings, runtime_factory: Callable[[], WorkerRuntime] | None = None) -> faust.App:
    """Build the Faust app and its agent. The runtime is built when the worker starts."""
    app = faust.App(
        settings.consumer_group,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=faust_credentials(settings),
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        broker_max_poll_records=5000,
        stream_buffer_maxsize=20000,
        # a worker that dies (kill -9) is noticed in seconds, not the default minute
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        stream_wait_empty=False,
    )
    queries = app.topic(settings.topic_queries, key_serializer="raw", value_serializer="raw")
    dead_letter = app.topic(settings.topic_dead_letter, key_serializer="raw", value_serializer="raw")
    alerts_topic = app.topic(settings.topic_alerts, key_serializer="raw", value_serializer="raw")
    state: dict[str, WorkerRuntime] = {}

    async def send_dead_letters(dead_letters: list[DeadLetter]) -> None:
        for dl in dead_letters:
            await dead_letter.send(key=(dl.event_id or "").encode() or None, value=dead_letter_message(dl))

    def runtime() -> WorkerRuntime:
        if "rt" not in state:
            state["rt"] = (runtime_factory or (lambda: WorkerRuntime.build(settings)))()
            state["rt"].send_dead_letters = send_dead_letters
        return state["rt"]

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Another worker may advance these partitions: next time, check their checkpoint first.
        revoked: set[Any] = args[0] if args else kwargs.get("revoked", set())
        if "rt" in state:
            state["rt"].pipelines.revoked({(tp.topic, tp.partition) for tp in revoked})

    @app.timer(interval=max(settings.checkpoint_interval_seconds, 0.5))  # type: ignore[untyped-decorator]  # faust's timer is untyped
    async def checkpoint_when_idle() -> None:
        if "rt" in state:
            await state["rt"].checkpoint_idle()

    @app.timer(interval=2.0)  # type: ignore[untyped-decorator]  # faust's timer is untyped
    async def export_consumer_lag() -> None:
        """Lag per partition: the broker's high watermark minus the next offset this worker processes."""
        if "rt" not in state:
            return
        rt = state["rt"]
        lags: dict[int, int] = {}
        for tp in app.consumer.assignment():
            if tp.topic != settings.topic_queries:
                continue
            try:
                highwater = app.consumer.highwater(tp)
            except (KeyError, AssertionError):  # not fetched yet
                continue
            if highwater is None:
                continue
            position = rt.pipelines.position(tp.topic, tp.partition)
            if position is None:  # nothing consumed from it yet by this worker: its committed offset
                position = getattr(app.consumer, "_committed_offset", {}).get(tp)
            if position is None:
                continue
            lags[tp.partition] = max(0, int(highwater) - int(position))
        rt.metrics.set_consumer_lag(lags)

    @app.agent(queries, concurrency=1)  # >1 could commit offsets past in-flight messages
    async def process_queries(stream: Any) -> None:  # a faust.Stream: noack_take is not on StreamT
        rt = runtime()
        rt.stream = stream
        async for events in stream.noack_take(BATCH_MAX, within=BATCH_WITHIN_SECONDS):
            async with rt.lock:
                await handle_batch(rt, events)
            if rt.fatal:
                log.critical("%s", rt.fatal)
                os.kill(os.getpid(), signal.SIGTERM)  # a clean stop; `clets-watch worker` exits non-zero
                return

    async def handle_batch(rt: WorkerRuntime, events: list[Any]) -> None:
        started = time.perf_counter()
        records = [
            Record(
                value=ev.message.value,
                topic=ev.message.topic,
                partition=ev.message.partition,
                offset=ev.message.offset,
                timestamp=_written_at(ev.message.timestamp),
            )
            for ev in events
        ]
        await asyncio.get_running_loop().run_in_executor(None, rt.refresh_decisions)
        out = rt.pipelines.process(records)
        rt.dirty.update((r.topic, r.partition) for r in records)
        for (topic, partition), offset in out.rewind.items():
            log.warning("offset gap on %s/%d: rewinding to %d", topic, partition, offset)
            await app.consumer.seek(TP(topic, partition), offset)
        rt.pending.extend(
            ev for ev, r in zip(events, records) if (r.topic, r.partition, r.offset) not in out.dropped
        )
        checkpoint = rt.checkpoint_due()
        await rt.submit_write(rt.sink_batch(out, checkpoint=checkpoint))
        await send_dead_letters(out.dead_letters)
        bad = sum(1 for dl in out.dead_letters if dl.reason != "late")
        try:
            rt.dead_letter_limit.record(good=len(records) - bad, bad=bad)
        except DeadLetterLimitExceeded as exc:
            rt.fatal = str(exc)
        for alert in out.alerts:
            await alerts_topic.send(key=alert.ori.encode(), value=_encode(alert))
        await rt.apply_recommendations(out.recommendations)
        await rt.forward_incidents(out.incidents)
        if checkpoint:
            await rt.drain_writes()  # the checkpoint and everything before it are in the database
            await rt.ack_pending()
        watermarks = [p.watermark for _tp, p in rt.pipelines.items() if p.watermark is not None]
        rt.metrics.observe_batch(
            out, seconds=time.perf_counter() - started, watermark=min(watermarks) if watermarks else None
        )

    app.clets_runtime = runtime  # type: ignore[attr-defined]
    return app
