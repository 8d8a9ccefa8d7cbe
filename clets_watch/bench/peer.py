"""The peer: the same job written with Quix Streams — decode, classify with the same pure classifier,
per-agency (message key = ORI) 1-minute tumbling counts in event time — on the same topic.

Its window state is Quix's default (RocksDB with a changelog topic, which Quix creates); it writes no
database and emits the closed windows nowhere, so it does less than the worker does.
Run in its own process: ``python -m clets_watch.bench.peer --bootstrap B --topic T --events N``.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import uuid
from typing import Any

from clets_watch.bench.meter import Meter
from clets_watch.bench.subproc import emit

WINDOW_MS = 60_000
GRACE_MS = 120_000  # the worker's allowed lateness


def run_peer(*, bootstrap: str, topic: str, events: int, timeout: float = 300.0) -> dict[str, Any]:
    from quixstreams import Application
    from quixstreams.models.serializers import Deserializer

    from processors.agencies import AgencyRegistry
    from processors.policy import Classifier, load_policy
    from schemas import QueryEvent, decode_event

    registry = AgencyRegistry.load()
    classifier = Classifier(load_policy(), registry)

    class QueryEventDeserializer(Deserializer):
        def __call__(self, value: bytes, ctx: Any) -> QueryEvent:
            return decode_event(value)

    def event_time(value: QueryEvent, _headers: Any, _ts: int, _ts_type: Any) -> int:
        return int(value.occurred_at.timestamp() * 1000)

    meter = Meter(events)
    group = f"bench-quix-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="clets-watch-bench-quix-") as state_dir:
        app = Application(
            broker_address=bootstrap,
            consumer_group=group,
            auto_offset_reset="earliest",
            state_dir=state_dir,
            loglevel=logging.WARNING,
        )
        source = app.topic(
            topic,
            key_deserializer="str",
            value_deserializer=QueryEventDeserializer(),  # type: ignore[no-untyped-call]  # quixstreams is untyped timestamp_extractor=event_time
        )
        sdf = app.dataframe(source)
        sdf = sdf.apply(lambda event: classifier.classify(event).verdict)

        def tick(_verdict: str) -> None:
            meter.add(1)
            if meter.done:
                app.stop()

        sdf = sdf.update(tick)
        sdf = sdf.tumbling_window(duration_ms=WINDOW_MS, grace_ms=GRACE_MS).count().final()
        started = time.monotonic()
        app.run(timeout=timeout)
        if not meter.done:
            raise RuntimeError(
                f"Quix Streams peer processed {meter.count} of {events} events in {time.monotonic() - started:.0f}s"
            )
    import quixstreams

    return {"library": f"quixstreams {quixstreams.__version__}", "group": group, **meter.as_dict()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--events", required=True, type=int)
    p.add_argument("--timeout", type=float, default=300.0)
    a = p.parse_args()
    emit(run_peer(bootstrap=a.bootstrap, topic=a.topic, events=a.events, timeout=a.timeout))


if __name__ == "__main__":
    main()
