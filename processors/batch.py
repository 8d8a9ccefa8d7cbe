"""Turn a batch of raw Kafka records into the outputs of one sink transaction.

Pure: the Faust agent (processors/app.py) hands it records; it runs one ``Pipeline`` per
partition (each partition has its own event-time watermark, as in Kafka Streams) and returns
what the sinks must write. No Kafka or database import here.

Restarts: a partition's pipeline starts from its last checkpoint (state + next offset), handed
in by ``resume``; records before that offset are already inside the state and are skipped, so
nothing is counted twice. Records after it are processed again and give the same outputs (the
core is deterministic and the sinks idempotent), so nothing is lost either.

Offsets of a partition must come in order and without holes (our topics are neither compacted
nor transactional). A record beyond the next expected offset — records fetched before a rebalance,
delivered after the state was reloaded — is not processed: the batch asks the consumer to rewind
the partition to the expected offset (``rewind``) and drops what arrives out of order until then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from processors.pipeline import Outputs, Pipeline, StepResult
from schemas import DeadLetter, Incident, ProcessedEvent

TopicPartition = tuple[str, int]
# (state, next offset) of a partition's last checkpoint, or None when it has none
Resume = Callable[[str, int], "tuple[bytes, int] | None"]


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed message: its raw value and where it came from."""

    value: bytes
    topic: str
    partition: int
    offset: int
    timestamp: dt.datetime | None = None  # when it was written (Kafka record timestamp)

    @property
    def source(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


@dataclass(slots=True)
class BatchOutput(Outputs):
    processed: list[ProcessedEvent] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    duplicates: int = 0
    skipped: int = 0  # records before a partition's checkpoint: already counted
    rewind: dict[TopicPartition, int] = field(default_factory=dict)  # seek these back to this offset
    dropped: set[tuple[str, int, int]] = field(
        default_factory=set
    )  # (topic, partition, offset) not processed

    def __len__(self) -> int:
        return len(self.processed) + len(self.dead_letters) + self.duplicates


@dataclass(slots=True)
class _Partition:
    pipeline: Pipeline
    next_offset: int  # the first offset not yet inside the pipeline's state
    started: bool  # has state (a checkpoint or a processed record): offsets must follow on
    stale: bool = False  # the partition was revoked: check the checkpoint before going on
    rewinding: bool = False  # waiting for ``next_offset`` after asking for a rewind


class PartitionedPipelines:
    """One pipeline per (topic, partition), created on first use from its checkpoint, if any."""

    def __init__(
        self,
        factory: Callable[[], Pipeline],
        *,
        resume: Resume | None = None,
        restore: Callable[[bytes], Pipeline] | None = None,
    ) -> None:
        self._factory = factory
        self._resume = resume
        self._restore = restore
        self._partitions: dict[TopicPartition, _Partition] = {}

    def _partition(self, topic: str, partition: int) -> _Partition:
        key = (topic, partition)
        part = self._partitions.get(key)
        if part is not None and part.stale:
            part.stale = False
            saved = self._resume(topic, partition) if self._resume else None
            if saved is not None and saved[1] > part.next_offset:
                part = None  # another worker went further while it owned the partition: take its state
        if part is None:
            saved = self._resume(topic, partition) if self._resume else None
            if saved is not None and self._restore is not None:
                state, next_offset = saved
                part = _Partition(self._restore(state), next_offset, started=True)
            else:
                part = _Partition(self._factory(), 0, started=False)
            self._partitions[key] = part
        return part

    def get(self, topic: str, partition: int) -> Pipeline:
        return self._partition(topic, partition).pipeline

    def items(self) -> Iterable[tuple[TopicPartition, Pipeline]]:
        return ((key, part.pipeline) for key, part in self._partitions.items())

    def position(self, topic: str, partition: int) -> int | None:
        """The next offset this worker will process for a partition it holds, else None."""
        part = self._partitions.get((topic, partition))
        return part.next_offset if part is not None else None

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Drop the state of partitions this worker no longer owns."""
        for key in partitions:
            self._partitions.pop(key, None)

    def revoked(self, partitions: Iterable[TopicPartition]) -> None:
        """Partitions taken away in a rebalance: when they come back, keep this worker's state unless
        the checkpoint shows another worker went further in the meantime."""
        for key in partitions:
            part = self._partitions.get(key)
            if part is not None:
                part.stale = True

    def checkpoints(self, partitions: Iterable[TopicPartition]) -> Iterator[tuple[str, int, int, bytes]]:
        """(topic, partition, next offset, state) for each of ``partitions`` this worker holds."""
        for key in partitions:
            part = self._partitions.get(key)
            if part is not None:
                yield key[0], key[1], part.next_offset, part.pipeline.snapshot()

    def process(self, records: Iterable[Record]) -> BatchOutput:
        out = BatchOutput()
        for record in records:
            part = self._partition(record.topic, record.partition)
            if record.offset < part.next_offset:
                out.skipped += 1
                continue
            if part.started and record.offset > part.next_offset:
                if not part.rewinding:
                    part.rewinding = True
                    out.rewind[(record.topic, record.partition)] = part.next_offset
                out.dropped.add((record.topic, record.partition, record.offset))
                continue
            part.started, part.rewinding = True, False
            try:
                result = part.pipeline.process_raw(
                    record.value, source=record.source, written_at=record.timestamp
                )
            except Exception as exc:  # noqa: BLE001 - a bug of ours must cost one message, not the worker
                result = StepResult(
                    dead_letters=[
                        DeadLetter(
                            reason="processing_error",
                            detail=f"{type(exc).__name__}: {exc}"[:2000],
                            payload=record.value,
                            source=record.source,
                        )
                    ]
                )
            part.next_offset = record.offset + 1
            if result.processed is not None:
                out.processed.append(result.processed)
            if result.duplicate:
                out.duplicates += 1
            out.extend(result)
            out.incidents.extend(result.incidents)
        return out
