"""The bench's results: machine description, goals met or not, a table for people, JSON for scripts."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any, Final

GOALS: Final = {
    "live_vs_ceiling": 0.5,
    "live_vs_peer": 1.0,
    "latency_p99_seconds": 1.0,
    "replay_vs_parse": 0.5,
    "replay_vs_orjson": 0.1,  # issue #16; the long-term goal is 0.5 (a statewide year in under an hour)
    "replay_workers2_speedup": 1.7,  # `replay --workers 2` over one process
    "replay_rss_growth": 1.10,  # RSS at the last sample / RSS at 1M (or the first sample): "flat"
}


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_total = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            mem_total = int(fh.readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu or platform.processor(),
        "memory_mib": mem_total,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _growth_span(mem: list[dict[str, int]]) -> tuple[dict[str, int] | None, dict[str, int] | None]:
    """The samples RSS growth is judged between: 1M -> the end on runs past 1M events, else first -> end."""
    if not mem:
        return None, None
    last = mem[-1]
    at_1m = next((m for m in mem if m["events"] == 1_000_000), None)
    return (at_1m if at_1m is not None and last["events"] > 1_000_000 else mem[0]), last


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def evaluate(results: dict[str, Any]) -> dict[str, Any]:
    """Ratios and whether each goal is met (reported, never enforced)."""
    s = results["stages"]
    ceiling = max((c["events_per_second"] for c in s["raw"]), default=0.0)
    live = s["live"]["events_per_second"]
    peer = s["peer"]["events_per_second"]
    # the goals judge the year-scale path: `replay --record` (streamed tally) when there is one
    replay_mode = "audit" if "audit" in s["replay"] else "pipeline"
    replay, parse = s["replay"][replay_mode], s["replay"]["parse"]
    mem = replay["memory"]
    first, last = _growth_span(mem)
    growth = round(last["rss_kib"] / first["rss_kib"], 3) if first and last and first["rss_kib"] else 0.0
    figures = {
        "ceiling_events_per_second": ceiling,
        "ceiling_client": max(s["raw"], key=lambda c: c["events_per_second"])["client"] if s["raw"] else None,
        "live_vs_ceiling": ratio(live, ceiling),
        "live_vs_peer": ratio(live, peer),
        "latency_p99_seconds": s["latency"]["p99_seconds"],
        "replay_vs_parse": ratio(replay["events_per_second"], parse["events_per_second"]),
        "replay_vs_orjson": ratio(replay["events_per_second"], s["replay"]["orjson"]["events_per_second"])
        if "orjson" in s["replay"]
        else 0.0,
        "replay_workers2_speedup": ratio(
            s["replay"]["pipeline_workers2"]["events_per_second"],
            s["replay"]["pipeline"]["events_per_second"],
        )
        if "pipeline_workers2" in s["replay"]
        else 0.0,
        "replay_rss_growth": growth,
        "replay_mode": replay_mode,
        "replay_rss_from": first,
        "replay_rss_to": last,
    }
    met = {
        "live_vs_ceiling": figures["live_vs_ceiling"] >= GOALS["live_vs_ceiling"],
        "live_vs_peer": figures["live_vs_peer"] >= GOALS["live_vs_peer"],
        "latency_p99_seconds": s["latency"]["alerts"] > 0
        and figures["latency_p99_seconds"] <= GOALS["latency_p99_seconds"],
        "replay_vs_parse": figures["replay_vs_parse"] >= GOALS["replay_vs_parse"],
        "replay_vs_orjson": figures["replay_vs_orjson"] >= GOALS["replay_vs_orjson"],
        "replay_workers2_speedup": figures["replay_workers2_speedup"] >= GOALS["replay_workers2_speedup"],
        "replay_rss_growth": 0 < growth <= GOALS["replay_rss_growth"],
    }
    return {"figures": figures, "goals": GOALS, "met": met}


def _rate(x: float) -> str:
    return f"{x:>12,.0f}"


def render(results: dict[str, Any]) -> str:
    s, ev = results["stages"], results["evaluation"]
    f, met = ev["figures"], ev["met"]
    m = results["machine"]
    ok = {True: "met", False: "NOT met"}
    lines = [
        f"clets-watch bench — {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_mib']:,} MiB, Python {m['python']}",
        (
            f"events: {results['config']['events']:,} on one partition (seed {results['config']['seed']}); "
            "rates from first to last processed event"
        ),
        "",
        f"{'STAGE':<44} {'EVENTS/S':>12}  {'RATIO':<24}",
    ]
    for c in s["raw"]:
        mark = "  <- ceiling" if c["client"] == f["ceiling_client"] else ""
        lines.append(
            f"{'1. raw consume + JSON decode: ' + c['client']:<44} {_rate(c['events_per_second'])}{mark}"
        )
    live = s["live"]
    lines.append(
        f"{'2. clets-watch live (worker, ' + live['database'] + ')':<44} {_rate(live['events_per_second'])}  "
        f"{f['live_vs_ceiling']:.2f}x ceiling (goal >= 0.5: {ok[met['live_vs_ceiling']]})"
    )
    lines.append(
        f"{'3. peer: ' + s['peer']['library']:<44} {_rate(s['peer']['events_per_second'])}  "
        f"live {f['live_vs_peer']:.2f}x peer (goal >= 1.0: {ok[met['live_vs_peer']]})"
    )
    lat = s["latency"]
    lines.append(
        f"{'4. latency at ' + format(lat['rate_target'], ',.0f') + ' ev/s, ' + format(lat['seconds'], 'g') + ' s':<44} "
        f"p50 {lat['p50_seconds'] * 1000:,.0f} ms · p99 {lat['p99_seconds'] * 1000:,.0f} ms · "
        f"max {lat['max_seconds'] * 1000:,.0f} ms over {lat['alerts']} prohibited_query alerts "
        f"(goal p99 <= 1 s: {ok[met['latency_p99_seconds']]})"
    )
    rp = s["replay"]
    lines.append(
        f"{'5. replay: bare JSON parse of the archive':<44} {_rate(rp['parse']['events_per_second'])}"
    )
    if "orjson" in rp:
        lines.append(
            f"{'   orjson.loads per line of the archive':<44} {_rate(rp['orjson']['events_per_second'])}  "
            f"replay {f['replay_vs_orjson']:.3f}x orjson (goal >= 0.1: {ok[met['replay_vs_orjson']]}; "
            "long-term 0.5)"
        )
    labels = {
        "pipeline": "   replay (results kept, printout)",
        "audit": "   replay --record (streamed tally)",
    }
    for mode in ("pipeline", "audit"):
        if mode not in rp:
            continue
        r = rp[mode]
        goal = f"  (goal >= 0.5: {ok[met['replay_vs_parse']]})" if mode == f["replay_mode"] else ""
        lines.append(
            f"{labels[mode]:<44} {_rate(r['events_per_second'])}  "
            f"{r['events_per_second'] / max(rp['parse']['events_per_second'], 1):.2f}x parse{goal}"
        )
        mem = r["memory"]
        if mem:
            a, b = _growth_span(mem)
            assert a is not None and b is not None
            flat = (
                f" (goal flat, <= x{GOALS['replay_rss_growth']}: {ok[met['replay_rss_growth']]})"
                if goal
                else ""
            )
            lines.append(
                f"{'     RSS':<44} {a['rss_kib'] / 1024:>9,.0f} MiB at {a['events']:,} -> "
                f"{b['rss_kib'] / 1024:,.0f} MiB at {b['events']:,} events, x{b['rss_kib'] / max(a['rss_kib'], 1):.2f}{flat}"
            )
    for name, r in rp.items():
        if not name.startswith("pipeline_workers") or not isinstance(r, dict):
            continue
        speedup = r["events_per_second"] / max(rp["pipeline"]["events_per_second"], 1)
        goal = f" (goal >= 1.7: {ok[met['replay_workers2_speedup']]})" if name == "pipeline_workers2" else ""
        lines.append(
            f"{'   replay --workers ' + str(r.get('workers', '?')):<44} {_rate(r['events_per_second'])}  "
            f"x{speedup:.2f} one process{goal}"
        )
    c = s["classifier"]
    lines.append(f"{'   pure classifier (eval --bench), warm':<44} {_rate(c['events_per_second'])}")
    lines.append("")
    lines.append(
        f"statewide average 32 ev/s: live headroom x{live['events_per_second'] / 32:,.0f}; "
        f"a year (~1e9 events) replays in {1e9 / max(rp[f['replay_mode']]['events_per_second'], 1) / 3600:,.1f} h "
        "on one core"
    )
    return "\n".join(lines)


def write_results(results: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
