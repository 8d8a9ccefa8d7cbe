"""Offline replay vs its ceiling, and its memory.

``pipeline`` mode runs what ``clets-watch replay`` runs (the worker's pipeline,
``processors.replay.replay_lines`` over ``iter_archive``, every result kept for the printout); ``audit``
mode what ``clets-watch replay --record`` runs (``run_stream`` into an ``AuditTally``, results tallied as
they pass, without the final database write); with ``--workers N`` (N > 1) either runs over N processes
as ``clets-watch replay --workers N`` does (``processors.replay_pool.run_pool``; the processes' start-up
is inside the clock). ``parse`` mode reads the same archive with the same reader and only decodes each
line with ``msgspec.json`` (the ceiling of replay); ``orjson`` mode the same with ``orjson.loads``
(the yardstick of issue #16). Pipeline modes set the garbage collector as the command does. Each mode runs in a fresh
process (``python -m clets_watch.bench.replay --mode M --archive FILE``) that samples its own VmRSS and
VmHWM (/proc/self/status) every tenth of the run and at 1M and 10M events. Pipeline build time is
excluded; the clock runs from the first line read to the end of the run (closing the windows included).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import msgspec

from clets_watch.bench.subproc import emit

MODES: Final = ("pipeline", "audit", "parse", "orjson")
MARKS: Final = (1_000_000, 10_000_000)
_decode: Final = msgspec.json.Decoder().decode


def memory_kib() -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of this process, in KiB."""
    out: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":", 1)
                out[name] = int(value.split()[0])
    return {"rss_kib": out.get("VmRSS", 0), "hwm_kib": out.get("VmHWM", 0)}


class Sampler:
    """Wraps the archive's line iterator: counts lines and samples memory at checkpoints."""

    def __init__(self, total: int) -> None:
        step = max(1, total // 10)
        self.marks = sorted({*range(step, total + 1, step), *(m for m in MARKS if m <= total)})
        self.samples: list[dict[str, int]] = []
        self.count = 0

    def wrap(self, lines: Iterator[tuple[bytes, str]]) -> Iterator[tuple[bytes, str]]:
        marks = iter(self.marks)
        next_mark = next(marks, None)
        for item in lines:
            yield item
            self.count += 1
            if self.count == next_mark:
                self.samples.append({"events": self.count, **memory_kib()})
                next_mark = next(marks, None)


def build_pipeline() -> Any:
    """The pipeline replay and the worker build: bundled registry, policy v1, rules, 60 s windows."""
    from clets_watch.settings import get_settings
    from processors.build import build_pipeline as build

    return build(get_settings()).new()


def run_mode(mode: str, archive: Path, expected: int, workers: int = 1) -> dict[str, Any]:
    from processors.gc_tuning import freeze_gc, tune_gc
    from processors.replay import iter_archive, replay_lines

    sampler = Sampler(expected)
    extra: dict[str, Any]
    if mode in ("pipeline", "audit") and workers > 1:
        from processors.replay_pool import run_pool

        tune_gc()
        freeze_gc()
        started = time.perf_counter()
        pooled = run_pool(
            sampler.wrap(iter_archive(archive)),
            build_pipeline,
            workers,
            mode="result" if mode == "pipeline" else "tally",
        )
        seconds = time.perf_counter() - started
        extra = {"workers": workers, "events_processed": pooled.merged.stats.events, "exact": pooled.exact}
    elif mode in ("pipeline", "audit"):
        pipeline = build_pipeline()
        tune_gc()
        freeze_gc()
        started = time.perf_counter()
        if mode == "pipeline":  # `clets-watch replay`: every result kept, alerts printed at the end
            result = replay_lines(sampler.wrap(iter_archive(archive)), pipeline)
            extra = {
                "alerts": len(result.alerts),
                "aggregates": len(result.aggregates),
                "dead_letters": sum(result.dead_letters.values()),
            }
        else:  # `clets-watch replay --record`: results tallied as they stream by
            from processors.replay import AuditTally, run_stream

            tally = AuditTally()
            tally.stats = run_stream(sampler.wrap(iter_archive(archive)), pipeline, tally.add)
            extra = {"events_processed": tally.stats.events}
        seconds = time.perf_counter() - started
    elif mode == "parse":
        started = time.perf_counter()
        for raw, _source in sampler.wrap(iter_archive(archive)):
            _decode(raw)
        seconds = time.perf_counter() - started
        extra = {}
    elif mode == "orjson":
        import orjson

        loads = orjson.loads
        started = time.perf_counter()
        for raw, _source in sampler.wrap(iter_archive(archive)):
            loads(raw)
        seconds = time.perf_counter() - started
        extra = {}
    else:
        raise ValueError(f"unknown replay mode {mode!r}; expected one of {', '.join(MODES)}")
    times = os.times()
    return {
        "mode": mode,
        "events": sampler.count,
        "seconds": round(seconds, 3),
        # CPU seconds of this process and of its finished children (the --workers processes), start-up
        # included: on a shared machine, wall-clock ratios also reflect what other programs took
        "cpu_seconds": round(times.user + times.system, 3),
        "children_cpu_seconds": round(times.children_user + times.children_system, 3),
        "events_per_second": round(sampler.count / seconds, 1) if seconds > 0 else 0.0,
        "memory": sampler.samples,
        "end": memory_kib(),
        **extra,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mode", required=True, choices=MODES)
    p.add_argument("--archive", required=True, type=Path)
    p.add_argument(
        "--events", required=True, type=int, help="events in the archive (for the memory checkpoints)"
    )
    p.add_argument(
        "--workers", type=int, default=1, help="processes for the pipeline and audit modes (default 1)"
    )
    a = p.parse_args()
    emit(run_mode(a.mode, a.archive, a.events, a.workers))


if __name__ == "__main__":
    main()
