"""``classify``, ``explain`` and ``eval``: purpose classification under a versioned policy, from the CLI.

clets-watch classify [--agencies FILE] [--policy FILE] < events.jsonl > verdicts.jsonl
clets-watch explain EVENT_ID --input archive.jsonl.gz      (or: echo '{…}' | clets-watch explain -)
clets-watch eval [--events 20000] [--seed N] [--input archive.jsonl.gz] [--json] [--bench]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final

import msgspec

from clets_watch.cli import UserError
from clets_watch.commands.options import Subcommands, add_command, add_json
from processors.agencies import AgencyRegistry, RegistryError
from processors.policy import Classifier, PolicyError, load_policy
from processors.policy.evaluation import PURPOSES, VERDICTS, Confusion
from schemas import InvalidEvent, QueryEvent, decode_event
from schemas.events import MAX_EVENT_BYTES

_encoder: Final = msgspec.json.Encoder()
_FLUSH_EVERY: Final = 1024


def register(sub: Subcommands) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--agencies", metavar="FILE", help="agency registry CSV (default: the bundled one)")
    common.add_argument("--policy", metavar="FILE", help="policy YAML (default: the bundled policy v1)")

    p = add_command(
        sub,
        "classify",
        run=run_classify,
        parents=[common],
        help="classify query events (JSON lines on stdin) under the policy",
        description="Read query events as JSON lines on stdin; write one verdict line per input line, same order, "
        "each stamped with policy_version and policy_digest (a digest of the policy file and its statute table). "
        'A bad line gets a verdict line with "verdict": "error" and the reason; the run goes on.',
    )

    p = add_command(
        sub,
        "explain",
        run=run_explain,
        parents=[common],
        help="show each policy rule considered for one event, and why it fired or not",
        description="Explain the verdict for one event: EVENT_ID looked up in --input FILE, or '-' for one event "
        "JSON on stdin. Shows the statute-table lookup of every code section in the reason and each rule's reasoning.",
    )
    p.add_argument(
        "event", metavar="EVENT_ID|-", help="an event id in --input, or '-' to read one event from stdin"
    )
    p.add_argument("--input", metavar="FILE", help="archive to look the event up in (.jsonl or .jsonl.gz)")
    add_json(p, "the verdict, statutes and rule traces on one line")

    p = add_command(
        sub,
        "eval",
        run=run_eval,
        parents=[common],
        help="measure the classifier against a labelled stream (precision/recall/F1)",
        description="Generate (or read) a labelled stream and print precision, recall and F1 per verdict and per "
        "purpose, with confusion matrices.",
    )
    p.add_argument("--events", type=int, default=20_000, help="events to generate (default 20000)")
    p.add_argument("--seed", type=int, default=None, help="generator seed (default: derived from the clock)")
    p.add_argument("--input", metavar="FILE", help="read an archive (.jsonl/.jsonl.gz) instead of generating")
    p.add_argument(
        "--truth", metavar="FILE", help="ground-truth sidecar for --input (default: <name>.truth.jsonl[.gz])"
    )
    add_json(p, "the scores on one line")
    p.add_argument(
        "--bench",
        action="store_true",
        help="also time the pure classifier, cold (fresh memo) and warm (events/s, one core)",
    )
    p.add_argument("--errors", type=int, default=0, metavar="N", help="show up to N misclassified events")


# ------------------------------------------------------------------------------------------ shared
def _classifier(args: argparse.Namespace) -> Classifier:
    try:
        policy = load_policy(args.policy)
    except PolicyError as exc:
        raise UserError(str(exc)) from None
    try:
        registry = AgencyRegistry.load(args.agencies)
    except RegistryError as exc:
        raise UserError(str(exc)) from None
    return Classifier(policy, registry)


def _open_lines(path: str) -> Iterator[bytes]:
    from processors.lines import LineReadError, archive_lines

    try:
        for _lineno, line in archive_lines(Path(path)):
            yield line
    except LineReadError as exc:
        raise UserError(str(exc)) from None


def _verdict_line(verdict: Any) -> dict[str, Any]:
    return {
        "event_id": verdict.event_id,
        "verdict": verdict.verdict,
        "purpose": verdict.purpose,
        "rules": list(verdict.rules),
        "policy_version": verdict.policy_version,
        "policy_digest": verdict.policy_digest,
    }


def _event_id_of(line: bytes) -> str | None:
    if len(line) > MAX_EVENT_BYTES:
        return None
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(obj, dict) and isinstance(obj.get("event_id"), str):
        return str(obj["event_id"])
    return None


# ------------------------------------------------------------------------------------------ classify
def run_classify(args: argparse.Namespace) -> int:
    clf = _classifier(args)
    return classify_stream(clf, sys.stdin.buffer, sys.stdout)


def classify_stream(clf: Classifier, source: IO[bytes], out: IO[str]) -> int:
    version = clf.policy.version
    digest = clf.policy.digest
    from processors.lines import stream_lines
    from processors.unknown_keys import KnownKeys, guard_unknown_keys

    # the pipeline's verdict: an unknown message key or purpose code is at least review
    classify = guard_unknown_keys(clf.classify, KnownKeys(clf.policy.sources_by_key))
    for n, raw in stream_lines(source):  # bounded: a huge line is never read whole
        try:
            event = decode_event(raw)
        except InvalidEvent as exc:
            record: dict[str, Any] = {
                "event_id": _event_id_of(raw),
                "verdict": "error",
                "reason": exc.reason,
                "detail": exc.detail,
                "line": n,
                "policy_version": version,
                "policy_digest": digest,
            }
        else:
            record = _verdict_line(classify(event))
        out.write(_encoder.encode(record).decode())
        out.write("\n")
        if n % _FLUSH_EVERY == 0:
            out.flush()
    out.flush()
    return 0


# ------------------------------------------------------------------------------------------ explain
def run_explain(args: argparse.Namespace) -> int:
    from processors.policy.explain import statute_lines

    clf = _classifier(args)
    event = _find_event(args)
    decision = clf.decide(event)
    verdict, traces = clf.explain(event)
    statutes = statute_lines(decision)
    agency = clf.registry.get(event.ori)
    if args.json:
        print(
            json.dumps(
                {
                    "verdict": _verdict_line(verdict) | {"data_source": verdict.data_source},
                    "statutes": statutes,
                    "traces": [
                        {
                            "rule": t.rule_id,
                            "clause": t.clause,
                            "description": t.description,
                            "fired": t.fired,
                            "detail": t.detail,
                        }
                        for t in traces
                    ],
                }
            )
        )
        return 0
    print(
        f"event {event.event_id}  {event.occurred_at.isoformat()}  ORI {event.ori} "
        f"({agency.name + (' / ' + agency.component if agency.component else '') if agency else 'unknown agency'})"
    )
    print(
        f"  message key {event.message_type} → {verdict.data_source}; purpose code {event.purpose_code or '-'}; "
        f"case number {event.case_number or '-'}"
    )
    print(f"  reason {event.reason!r}")
    print(
        f"verdict {verdict.verdict.upper()}  purpose {verdict.purpose}  policy v{verdict.policy_version} "
        f"({verdict.policy_digest})  rules {', '.join(verdict.rules) or '-'}"
    )
    for line in statutes:
        print(f"  statute {line}")
    for t in traces:
        mark = "FIRED" if t.fired else "  -  "
        print(f"  [{mark}] {t.rule_id:<30} ({t.clause}) {t.detail}")
    return 0


def _find_event(args: argparse.Namespace) -> QueryEvent:
    if args.event == "-":
        data = sys.stdin.buffer.read().strip()
        try:
            return decode_event(data)
        except InvalidEvent as exc:
            raise UserError(f"the event on stdin is not a valid query event: {exc}") from None
    if not args.input:
        raise UserError("give --input FILE to look up an event id, or '-' to read one event from stdin")
    needle = args.event.encode()
    for n, line in enumerate(_open_lines(args.input), start=1):
        if needle not in line:
            continue
        try:
            event = decode_event(line.rstrip(b"\r\n"))
        except InvalidEvent:
            continue
        if event.event_id == args.event:
            return event
    raise UserError(f"event {args.event} is not in {args.input}")


# ------------------------------------------------------------------------------------------ eval
def _archive_stream(path: str, truth_file: str | None) -> Iterator[tuple[QueryEvent, dict[str, Any]]]:
    if truth_file is None:
        from producers.archive import truth_path

        truth_file = str(truth_path(path))
    truth: dict[str, dict[str, Any]] = {}
    for line in _open_lines(truth_file):
        if line.strip():
            obj = json.loads(line)
            truth[obj["event_id"]] = obj
    for line in _open_lines(path):
        if not line.strip():
            continue
        try:
            event = decode_event(line.rstrip(b"\r\n"))
        except InvalidEvent:
            continue
        label = truth.get(event.event_id)
        if label is not None and "verdict" in label and "purpose" in label:
            yield event, label


def run_eval(args: argparse.Namespace) -> int:
    clf = _classifier(args)
    items: list[tuple[QueryEvent, dict[str, Any]]]
    seed = args.seed
    if args.input:
        items = list(_archive_stream(args.input, args.truth))
        origin = {"input": args.input}
    else:
        from producers.labelled import labelled_stream

        if args.events <= 0:
            raise UserError("--events must be positive")
        if seed is None:
            seed = time.time_ns() % (2**31)
        items = [
            (
                q.event,
                {
                    "purpose": q.label.purpose,
                    "verdict": q.label.verdict,
                    "misuse": q.label.misuse,
                    "intent": q.intent,
                    "clauses": list(q.label.clauses),
                },
            )
            for q in labelled_stream(seed, args.events, clf.registry)
        ]
        origin = {"seed": seed, "events": args.events}
    if not items:
        raise UserError("no labelled events to evaluate")
    verdicts = Confusion(VERDICTS)
    purposes = Confusion(PURPOSES)
    misuse = Counter[str]()
    errors: list[dict[str, Any]] = []
    started = time.perf_counter()
    predictions = [clf.classify(event) for event, _ in items]
    elapsed = time.perf_counter() - started
    for (event, label), v in zip(items, predictions):
        verdicts.add(str(label["verdict"]), v.verdict)
        purposes.add(str(label["purpose"]), v.purpose)
        if label.get("misuse"):
            misuse[v.verdict] += 1
        if (label["verdict"] != v.verdict or label["purpose"] != v.purpose) and len(errors) < args.errors:
            errors.append(
                {
                    "event_id": event.event_id,
                    "ori": event.ori,
                    "message_type": event.message_type,
                    "purpose_code": event.purpose_code,
                    "reason": event.reason,
                    "case_number": event.case_number,
                    "intent": label.get("intent"),
                    "expected": [label["verdict"], label["purpose"]],
                    "got": [v.verdict, v.purpose],
                    "rules": list(v.rules),
                }
            )
    result: dict[str, Any] = {
        **origin,
        "policy_version": clf.policy.version,
        "policy_digest": clf.policy.digest,
        "evaluated": len(items),
        "verdict": verdicts.as_dict(),
        "purpose": purposes.as_dict(),
        "misuse": {"events": sum(misuse.values()), "flagged_by_verdict": dict(misuse)},
    }
    if args.bench:
        result["bench"] = _bench(clf, [e for e, _ in items], first_pass=elapsed)
    if errors:
        result["errors"] = errors
    if args.json:
        print(json.dumps(result))
        return 0
    where = f"seed {seed}" if args.input is None else args.input
    print(f"clets-watch eval: {len(items)} labelled events ({where}), policy v{clf.policy.version}\n")
    print(verdicts.render("verdict"))
    print()
    print(purposes.render("purpose"))
    print(
        f"\nmisuse (ground truth, incl. undetectable snooping): {sum(misuse.values())} events; "
        f"classified as {dict(misuse)}"
    )
    if args.bench:
        b = result["bench"]
        print(
            f"\nbench: {b['events_per_second']:,.0f} events/s warm, {b['cold_events_per_second']:,.0f} events/s "
            f"cold (pure classifier, one core, {b['events']} events)"
        )
    for e in errors:
        print(
            f"\n  {e['intent']}: expected {e['expected']} got {e['got']} {e['rules']}\n"
            f"    {e['ori']} {e['message_type']} code={e['purpose_code']} case={e['case_number']!r} "
            f"reason={e['reason']!r}"
        )
    return 0


def _bench(clf: Classifier, events: list[QueryEvent], *, first_pass: float) -> dict[str, Any]:
    fresh = Classifier(clf.policy, clf.registry)
    started = time.perf_counter()
    for event in events:
        fresh.classify(event)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    for event in events:
        fresh.classify(event)
    warm = time.perf_counter() - started
    return {
        "events": len(events),
        "cold_events_per_second": len(events) / cold if cold else 0.0,
        "events_per_second": len(events) / warm if warm else 0.0,
        "first_pass_seconds": first_pass,
    }
