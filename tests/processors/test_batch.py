"""The worker's batch step: one pipeline per partition, resume from checkpoints, errors isolated."""

from __future__ import annotations

from processors.agencies import AgencyRegistry
from processors.batch import PartitionedPipelines, Record
from processors.pipeline import Pipeline, PipelineConfig
from processors.pseudonymize import Pseudonymizer
from schemas import QueryEvent, Verdict
from tests.processors.factories import fake_classify, raw

REGISTRY = AgencyRegistry.load()


def make() -> Pipeline:
    return Pipeline(fake_classify, REGISTRY, Pseudonymizer(b"k"), PipelineConfig())


def test_partitions_have_their_own_pipelines() -> None:
    pp = PartitionedPipelines(make)
    out = pp.process([Record(raw("a", 0), "t", 0, 0), Record(raw("b", 0), "t", 1, 0)])
    assert len(out.processed) == 2
    assert pp.get("t", 0) is not pp.get("t", 1)
    assert pp.position("t", 0) == 1 and pp.position("t", 2) is None


def test_resume_skips_what_the_checkpoint_holds_and_gives_the_same_outputs() -> None:
    records = [Record(raw(f"e{i}", i * 20), "t", 0, i) for i in range(40)]
    whole = PartitionedPipelines(make).process(records)

    first = PartitionedPipelines(make)
    part1 = first.process(records[:15])
    [(topic, partition, next_offset, state)] = list(first.checkpoints([("t", 0)]))
    assert (topic, partition, next_offset) == ("t", 0, 15)
    # a restart: Kafka redelivers from an older committed offset (10); the checkpoint says 15
    resumed = PartitionedPipelines(
        make,
        resume=lambda t, p: (state, next_offset),
        restore=lambda s: Pipeline.restore(s, fake_classify, REGISTRY, Pseudonymizer(b"k"), PipelineConfig()),
    )
    part2 = resumed.process(records[10:])
    assert part2.skipped == 5
    assert [e.event_id for e in part1.processed + part2.processed] == [e.event_id for e in whole.processed]
    assert {a.alert_id for a in part1.alerts + part2.alerts} == {a.alert_id for a in whole.alerts}
    assert sorted((a.ori, a.window_start, a.total) for a in part1.aggregates + part2.aggregates) == sorted(
        (a.ori, a.window_start, a.total) for a in whole.aggregates
    )


def test_a_bug_in_the_core_costs_one_message_not_the_worker() -> None:
    def flaky(event: QueryEvent) -> Verdict:
        if event.event_id == "boom":
            raise KeyError("policy table has no entry")
        return fake_classify(event)

    pp = PartitionedPipelines(lambda: Pipeline(flaky, REGISTRY, Pseudonymizer(b"k"), PipelineConfig()))
    out = pp.process(
        [
            Record(raw("ok1", 0), "t", 0, 0),
            Record(raw("boom", 1), "t", 0, 1),
            Record(raw("ok2", 2), "t", 0, 2),
        ]
    )
    assert [e.event_id for e in out.processed] == ["ok1", "ok2"]
    [dl] = out.dead_letters
    assert dl.reason == "processing_error" and "KeyError" in dl.detail and dl.source == "t/0/1"


def test_a_hole_in_the_offsets_asks_for_a_rewind_and_processes_nothing_out_of_order() -> None:
    records = [Record(raw(f"e{i}", i * 20), "t", 0, i) for i in range(30)]
    whole = PartitionedPipelines(make).process(records)
    pp = PartitionedPipelines(make)
    first = pp.process(records[:10])
    # records 10..14 went missing (fetched before a rebalance); 15.. arrive first
    gap = pp.process(records[15:20])
    assert gap.rewind == {("t", 0): 10} and not gap.processed
    assert gap.dropped == {("t", 0, o) for o in range(15, 20)}
    again = pp.process(records[16:18])  # stale buffered records while rewinding: dropped, no second rewind
    assert not again.rewind and not again.processed
    rest = pp.process(records[10:])  # the rewound partition delivers from offset 10
    ids = [e.event_id for e in first.processed + rest.processed]
    assert ids == [e.event_id for e in whole.processed]


def test_revoked_partition_keeps_its_state_unless_the_checkpoint_went_further() -> None:
    records = [Record(raw(f"e{i}", i * 20), "t", 0, i) for i in range(20)]
    saved: dict[str, tuple[bytes, int]] = {}
    restore = lambda s: Pipeline.restore(s, fake_classify, REGISTRY, Pseudonymizer(b"k"), PipelineConfig())
    pp = PartitionedPipelines(make, resume=lambda t, p: saved.get("cp"), restore=restore)
    pp.process(records[:5])
    [(_t, _p, nxt, state)] = list(pp.checkpoints([("t", 0)]))
    saved["cp"] = (state, nxt)
    pp.process(records[5:8])  # processed, not yet checkpointed
    pp.revoked([("t", 0)])
    out = pp.process(records[8:10])  # reassigned to us: our state (at 8) is ahead of the checkpoint (5)
    assert [e.event_id for e in out.processed] == ["e8", "e9"] and not out.rewind
    other = PartitionedPipelines(make, resume=lambda t, p: saved.get("cp"), restore=restore)
    other.process(records[5:15])
    [(_t, _p, nxt2, state2)] = list(other.checkpoints([("t", 0)]))
    saved["cp"] = (state2, nxt2)  # another worker owned it and reached 15
    pp.revoked([("t", 0)])
    out = pp.process(records[15:17])
    assert [e.event_id for e in out.processed] == ["e15", "e16"]
