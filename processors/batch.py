"""Turn a batch of raw Kafka records into the outputs of one sink transaction.

Pure: the Faust agent (processors/app.py) hands it records; it runs one ``Pipeline`` per
partition (each partition has its own event-time watermark, as in Kafka Streams) and returns
what the sinks must write. No Kafka or database import here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from processors.pipeline import Pipeline
from schemas import Aggregate, Alert, DeadLetter, ProcessedEvent


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed message: its raw value and where it came from."""

    value: bytes
    topic: str
    partition: int
    offset: int

    @property
    def source(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


@dataclass(slots=True)
class BatchOutput:
    processed: list[ProcessedEvent] = field(default_factory=list)
    aggregates: list[Aggregate] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    duplicates: int = 0

    def __len__(self) -> int:
        return len(self.processed) + len(self.dead_letters) + self.duplicates


class PartitionedPipelines:
    """One pipeline per (topic, partition), created on first use by ``factory``."""

    def __init__(self, factory: Callable[[], Pipeline]) -> None:
        self._factory = factory
        self._pipelines: dict[tuple[str, int], Pipeline] = {}

    def get(self, topic: str, partition: int) -> Pipeline:
        key = (topic, partition)
        pipeline = self._pipelines.get(key)
        if pipeline is None:
            pipeline = self._pipelines[key] = self._factory()
        return pipeline

    def items(self) -> Iterable[tuple[tuple[str, int], Pipeline]]:
        return self._pipelines.items()

    def process(self, records: Iterable[Record]) -> BatchOutput:
        out = BatchOutput()
        for record in records:
            result = self.get(record.topic, record.partition).process_raw(record.value, source=record.source)
            if result.processed is not None:
                out.processed.append(result.processed)
            if result.duplicate:
                out.duplicates += 1
            out.aggregates.extend(result.aggregates)
            out.alerts.extend(result.alerts)
            out.dead_letters.extend(result.dead_letters)
        return out
