"""One bench run: the same generated events through every stage, on this machine, one after another."""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from clets_watch.bench import report
from clets_watch.bench.latency import run_latency
from clets_watch.bench.live import BENCH_KEY, run_live
from clets_watch.bench.raw_consumers import CLIENTS
from clets_watch.bench.subproc import run_stage
from clets_watch.bench.workload import archive, bench_topic, events


@dataclass(frozen=True, slots=True)
class BenchConfig:
    bootstrap: str
    events: int = 200_000
    replay_events: int = 1_000_000
    latency_seconds: float = 30.0
    latency_rate: float = 3200.0
    replay_workers: tuple[int, ...] = (2,)  # `replay --workers N` runs besides the one-process replay
    classifier_events: int = 20_000
    seed: int = 2019
    cache_dir: Path = Path(".clets-watch/bench")
    db_url: str | None = None
    stage_timeout: float = 900.0


def classifier_figure(seed: int, count: int) -> dict[str, Any]:
    """The pure classifier's throughput, by the same code as ``clets-watch eval --bench``."""
    from clets_watch.commands.classify import _bench
    from processors.agencies import AgencyRegistry
    from processors.policy import Classifier, load_policy
    from producers.labelled import labelled_stream

    registry = AgencyRegistry.load()
    clf = Classifier(load_policy(), registry)
    evs = [q.event for q in labelled_stream(seed, count, registry)]
    started = time.perf_counter()
    for e in evs:
        clf.classify(e)
    result: dict[str, Any] = _bench(clf, evs, first_pass=time.perf_counter() - started)
    return result


def _delete_topics(bootstrap: str, topics: list[str], prefixes: list[str]) -> None:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="clets-watch-bench")
    except KafkaError:
        return
    try:
        existing = set(admin.list_topics())
        doomed = [n for t in topics for n in (t, f"{t}.dead-letter", f"{t}.alerts") if n in existing]
        doomed += [n for n in existing if prefixes and n.startswith(tuple(prefixes))]
        if doomed:
            admin.delete_topics(doomed, timeout_ms=15_000)
    except KafkaError:
        pass  # leftover bench topics are harmless
    finally:
        admin.close()


def consume_stage(
    module: str, config: BenchConfig, topic: str, timeout: float, *extra: str
) -> dict[str, Any]:
    """A stage that consumes ``config.events`` events of ``topic`` in a child process (``module``: the raw
    consumers, the peer), given ``timeout`` seconds and a minute more to start and report."""
    args = [*extra, "--bootstrap", config.bootstrap, "--topic", topic, "--events", str(config.events)]
    return run_stage(module, [*args, "--timeout", str(timeout)], timeout=timeout + 60)


def run(
    config: BenchConfig, say: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True)
) -> dict[str, Any]:
    from producers.kafka_out import produce

    began = time.monotonic()
    stages: dict[str, Any] = {}
    topics: list[str] = []
    prefixes: list[str] = []  # the peer's changelog topics
    t = config.stage_timeout
    env = {"CLETS_WATCH_PSEUDONYM_KEY": BENCH_KEY}
    try:
        with tempfile.TemporaryDirectory(prefix="clets-watch-bench-") as tmp:
            work = Path(tmp)
            say(f"pure classifier: {config.classifier_events:,} events ...")
            stages["classifier"] = classifier_figure(config.seed, config.classifier_events)

            topic = bench_topic("queries")
            topics.append(topic)
            say(f"producing {config.events:,} events to {topic} ...")
            produced = produce(events(config.seed, config.events), bootstrap=config.bootstrap, topic=topic)
            stages["produce"] = {
                "events": produced.sent,
                "seconds": round(produced.seconds, 3),
                "events_per_second": round(produced.rate, 1),
            }

            stages["raw"] = []
            for client in CLIENTS:
                say(f"1. raw consume: {client} ...")
                stages["raw"].append(
                    consume_stage("clets_watch.bench.raw_consumers", config, topic, t, "--client", client)
                )
            say("2. clets-watch live: the worker ...")
            stages["live"] = run_live(
                bootstrap=config.bootstrap,
                topic=topic,
                events=config.events,
                home=work / "live",
                db_url=config.db_url,
                timeout=t,
            )
            say("3. peer: Quix Streams ...")
            stages["peer"] = consume_stage("clets_watch.bench.peer", config, topic, t)
            prefixes.append(f"changelog__{stages['peer']['group']}")
            latency_topic = bench_topic("latency")
            topics.append(latency_topic)
            say(f"4. latency: {config.latency_rate:,.0f} ev/s for {config.latency_seconds:g}s ...")
            stages["latency"] = run_latency(
                bootstrap=config.bootstrap,
                topic=latency_topic,
                seed=config.seed + 1,
                rate=config.latency_rate,
                seconds=config.latency_seconds,
                home=work / "latency",
                db_url=config.db_url,
            )
            say(
                f"5. replay: archive of {config.replay_events:,} events (cached under {config.cache_dir}) ..."
            )
            path = archive(config.cache_dir, config.seed, config.replay_events)
            stages["replay"] = {"archive": str(path), "archive_bytes": path.stat().st_size}
            import processors.replay as replay_core

            modes: list[tuple[str, str, int]] = [
                ("parse", "parse", 1),
                ("orjson", "orjson", 1),
                ("pipeline", "pipeline", 1),
            ]
            if hasattr(replay_core, "AuditTally"):
                modes.append(("audit", "audit", 1))
            modes += [(f"pipeline_workers{n}", "pipeline", n) for n in config.replay_workers if n > 1]
            for name, mode, workers in modes:
                say(f"   replay: {name} ...")
                stages["replay"][name] = run_stage(
                    "clets_watch.bench.replay",
                    [
                        "--mode",
                        mode,
                        "--archive",
                        str(path),
                        "--events",
                        str(config.replay_events),
                        "--workers",
                        str(workers),
                    ],
                    timeout=t * 4,
                    env=env,
                )
    finally:
        _delete_topics(config.bootstrap, topics, prefixes)
    results: dict[str, Any] = {
        "tool": "clets-watch bench",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": report.machine(),
        "config": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in asdict(config).items()
            if k not in ("db_url",)
        }
        | {"database": (config.db_url or "sqlite").split(":", 1)[0]},
        "stages": stages,
        "wall_seconds": round(time.monotonic() - began, 1),
    }
    results["evaluation"] = report.evaluate(results)
    return results
