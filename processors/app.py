"""The Faust adapter: a thin agent that feeds the pure core and hands its results to the sinks.

No policy, window or rule logic lives here. Per batch (``stream.take_events``):
records -> ``PartitionedPipelines.process`` -> one database transaction -> dead letters and
alerts to their topics -> metrics. Faust acks a batch's events only after this body returns,
so Kafka offsets are never committed past data the database has not stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import faust
import msgspec

from clets_watch.settings import Settings, pseudonym_key
from processors.agencies import AgencyRegistry
from processors.batch import BatchOutput, PartitionedPipelines, Record
from processors.pipeline import Pipeline, PipelineConfig
from processors.policy import Classifier, load_policy
from processors.pseudonymize import Pseudonymizer
from sinks.db import DatabaseSink, SinkBatch
from sinks.metrics import Metrics

log = logging.getLogger("clets_watch.worker")

BATCH_MAX = 2000
BATCH_WITHIN_SECONDS = 0.25
_encode = msgspec.json.Encoder().encode


def dead_letter_message(dl: Any) -> bytes:
    """The dead-letter topic's value: the reason, detail and where it came from, plus the raw payload."""
    payload = dl.payload
    try:
        text: str | None = payload.decode("utf-8")
        raw_b64 = None
    except UnicodeDecodeError:
        import base64

        text, raw_b64 = None, base64.b64encode(payload).decode()
    return _encode(
        {
            "reason": dl.reason,
            "detail": dl.detail,
            "source": dl.source,
            "event_id": dl.event_id,
            "payload": text,
            "payload_base64": raw_b64,
        }
    )


@dataclass
class WorkerRuntime:
    """What the agent needs; built once per worker process."""

    settings: Settings
    pipelines: PartitionedPipelines
    sink: DatabaseSink
    metrics: Metrics
    key_note: str
    executor: ThreadPoolExecutor

    @classmethod
    def build(cls, settings: Settings, *, metrics: Metrics | None = None) -> WorkerRuntime:
        key, note = pseudonym_key(settings)
        registry = AgencyRegistry.load(settings.agencies_file)
        classifier = Classifier(load_policy(settings.policy_file), registry)
        pseudonymizer = Pseudonymizer(key)
        config = PipelineConfig(
            window_seconds=settings.window_seconds,
            allowed_lateness_seconds=settings.allowed_lateness_seconds,
        )

        def factory() -> Pipeline:
            return Pipeline(
                classify=classifier.classify, registry=registry, pseudonymizer=pseudonymizer, config=config
            )

        return cls(
            settings=settings,
            pipelines=PartitionedPipelines(factory),
            sink=DatabaseSink(settings.database_url),
            metrics=metrics or Metrics(),
            key_note=note,
            # one thread: database writes stay in batch order
            executor=ThreadPoolExecutor(max_workers=1, thread_name_prefix="clets-watch-sink"),
        )

    async def write_with_retry(self, out: BatchOutput, *, max_delay: float = 30.0) -> None:
        """Write one batch; while the database is down, retry with backoff and hold the offsets."""
        batch = SinkBatch(
            processed=out.processed, aggregates=out.aggregates, alerts=out.alerts, dead_letters=out.dead_letters
        )
        loop = asyncio.get_running_loop()
        delay = 0.5
        while True:
            try:
                await loop.run_in_executor(self.executor, self.sink.write_batch, batch)
                self.metrics.set_sink_backlog(0)
                return
            except Exception as exc:  # noqa: BLE001 - any database error: keep the batch, retry
                self.metrics.set_sink_backlog(len(out))
                log.warning("database write failed (%s); retrying in %.1fs", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_delay)


def create_app(settings: Settings, runtime_factory: Callable[[], WorkerRuntime] | None = None) -> faust.App:
    """Build the Faust app and its agent. The runtime is built when the worker starts."""
    app = faust.App(
        settings.consumer_group,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        stream_wait_empty=False,
    )
    queries = app.topic(settings.topic_queries, key_serializer="raw", value_serializer="raw")
    dead_letter = app.topic(settings.topic_dead_letter, key_serializer="raw", value_serializer="raw")
    alerts_topic = app.topic(settings.topic_alerts, key_serializer="raw", value_serializer="raw")
    state: dict[str, WorkerRuntime] = {}

    def runtime() -> WorkerRuntime:
        if "rt" not in state:
            state["rt"] = (runtime_factory or (lambda: WorkerRuntime.build(settings)))()
        return state["rt"]

    @app.agent(queries, concurrency=1)  # >1 could commit offsets past in-flight messages
    async def process_queries(stream: faust.StreamT) -> None:
        rt = runtime()
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_SECONDS):
            started = time.perf_counter()
            records = [
                Record(
                    value=ev.message.value if isinstance(ev.message.value, bytes) else bytes(ev.value),
                    topic=ev.message.topic,
                    partition=ev.message.partition,
                    offset=ev.message.offset,
                )
                for ev in events
            ]
            out = rt.pipelines.process(records)
            await rt.write_with_retry(out)
            for dl in out.dead_letters:
                await dead_letter.send(key=(dl.event_id or "").encode() or None, value=dead_letter_message(dl))
            for alert in out.alerts:
                await alerts_topic.send(key=alert.ori.encode(), value=_encode(alert))
            rt.metrics.observe_batch(out, seconds=time.perf_counter() - started)
            for (_topic, _partition), pipeline in rt.pipelines.items():
                if pipeline.watermark is not None:
                    rt.metrics.set_watermark(pipeline.watermark.timestamp())

    app.clets_runtime = runtime  # type: ignore[attr-defined]
    return app
