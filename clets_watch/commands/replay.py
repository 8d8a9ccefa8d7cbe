"""``clets-watch replay``: run archived query events through the same pipeline as the worker.

    clets-watch replay --input FILE [--input FILE ...] [--agencies FILE] [--policy FILE]
                       [--rules FILE] [--json]

Reads .jsonl / .jsonl.gz archives (one query event per line) as one stream, closes every window
at the end, and prints the alerts: a readable summary, or with ``--json`` one JSON object per line
(sorted keys, sorted alerts), so two runs over the same archives print byte-identical output.
No Kafka and no database.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import IO

from clets_watch.cli import UserError
from clets_watch.settings import MissingPseudonymKey, get_settings, pseudonym_key
from processors.agencies import AgencyRegistry, RegistryError
from processors.pipeline import Pipeline, PipelineConfig
from processors.pseudonymize import Pseudonymizer
from processors.replay import ArchiveError, ReplayResult, alert_json, replay_files
from processors.rules.base import RuleConfigError

_Sub = argparse._SubParsersAction
SUMMARY_WIDTH = 70


def register(sub: _Sub[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "replay",
        help="run archived query events through the pipeline and print the alerts",
        description=(
            "Replay .jsonl or .jsonl.gz archives (one query event per line) through the same "
            "classification, windows and alert rules as the worker, without Kafka or a database. "
            "Alert ids match the live worker's for the same events and pseudonym key."
        ),
    )
    p.add_argument("--input", "-i", action="append", required=True, type=Path, metavar="FILE",
                   help="archive file (.jsonl or .jsonl.gz); repeat for several, replayed in order")
    p.add_argument("--agencies", type=Path, metavar="FILE", help="agency registry CSV (default: bundled)")
    p.add_argument("--policy", type=Path, metavar="FILE", help="policy YAML (default: bundled policy v1)")
    p.add_argument("--rules", type=Path, metavar="FILE", help="rules YAML merged over the bundled rules.yaml")
    p.add_argument("--window-seconds", type=int, metavar="N", help="tumbling window size (default: settings)")
    p.add_argument("--allowed-lateness", type=int, metavar="N", help="allowed lateness in seconds (default: settings)")
    p.add_argument("--json", action="store_true", help="one alert per line as JSON, for scripts")
    p.set_defaults(func=run)


def build_pipeline(args: argparse.Namespace) -> Pipeline:
    """The pipeline a replay runs: registry, policy, pseudonym key and windows from flags or settings."""
    from processors.policy import Classifier, PolicyError, load_policy

    settings = get_settings()
    try:
        key, note = pseudonym_key(settings)
    except MissingPseudonymKey as exc:
        raise UserError(str(exc)) from None
    print(f"pseudonyms: {note}", file=sys.stderr)
    try:
        registry = AgencyRegistry.load(args.agencies or settings.agencies_file)
    except RegistryError as exc:
        raise UserError(str(exc)) from None
    try:
        policy = load_policy(args.policy or settings.policy_file)
    except (PolicyError, OSError) as exc:
        raise UserError(f"policy: {exc}") from None
    try:
        config = PipelineConfig(
            window_seconds=args.window_seconds or settings.window_seconds,
            allowed_lateness_seconds=(
                args.allowed_lateness if args.allowed_lateness is not None else settings.allowed_lateness_seconds
            ),
            rules_file=args.rules,
        )
        classifier = Classifier(policy, registry)
        return Pipeline(classifier.classify, registry, Pseudonymizer(key), config)
    except (RuleConfigError, ValueError) as exc:
        raise UserError(str(exc)) from None


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    for path in args.input:
        if not path.is_file():
            raise UserError(f"input file {path} does not exist")
    pipeline = build_pipeline(args)
    try:
        result = replay_files(args.input, pipeline)
    except ArchiveError as exc:
        raise UserError(str(exc)) from None
    if args.json:
        for alert in result.sorted_alerts():
            out.write(alert_json(alert).decode() + "\n")
    else:
        write_summary(result, out)
    return 0


def write_summary(result: ReplayResult, out: IO[str]) -> None:
    s = result.stats
    out.write(
        f"events: {s.events}  duplicates: {s.duplicates}  late: {s.late}  "
        f"dead letters: {s.dead_letters}  aggregates: {s.aggregates} (+{s.amendments} amendments)\n"
    )
    alerts = result.sorted_alerts()
    fired = [a for a in alerts if a.status == "fired"]
    out.write(f"alerts: {len(fired)} fired, {len(alerts) - len(fired)} suppressed\n")
    reasons = Counter(d.reason for d in result.dead_letters)
    if reasons:
        out.write("dead letters by reason: " + ", ".join(f"{r} {n}" for r, n in sorted(reasons.items())) + "\n")
    by_rule = Counter((a.rule, a.severity) for a in fired)
    for (rule, severity), n in sorted(by_rule.items()):
        out.write(f"  {rule:<24} {severity:<9} {n}\n")
    if alerts:
        out.write("\n")
        out.write(f"{'WINDOW START':<21} {'SEVERITY':<9} {'RULE':<22} {'ORI':<10} SUMMARY\n")
        for a in alerts:
            summary = a.summary if len(a.summary) <= SUMMARY_WIDTH else a.summary[: SUMMARY_WIDTH - 1] + "…"
            status = "" if a.status == "fired" else " [suppressed]"
            out.write(f"{a.window_start:<21} {a.severity:<9} {a.rule:<22} {a.ori:<10} {summary}{status}\n")
    if result.recommendations:
        out.write("\naccess recommendations:\n")
        for rec in result.recommendations:
            out.write(f"  {rec.ori} {rec.previous} -> {rec.level}: {rec.action} (alerts: {', '.join(rec.alert_ids)})\n")
