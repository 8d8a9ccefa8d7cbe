"""Builds the golden streams: small archives, one per rule, each with the alerts it must produce.

    python -m tests.golden.make_golden          # rewrite the .jsonl streams
    python -m tests.golden.make_golden --expect # also rewrite <name>.expected.json from a replay

Review the diff of any rewritten .expected.json by hand: it is the test's oracle.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

HERE = Path(__file__).parent
GOLDEN_KEY = b"golden-pseudonym-key"
T0 = dt.datetime(2024, 5, 1, 19, 0, tzinfo=dt.UTC)  # 12:00 in Los Angeles
LASD, SFPD, HSI, CBP, ERO = "CA0190000", "CA0380100", "CAHSI0100", "CACBP0100", "CAICE0100"


def ev(
    n: int,
    seconds: float,
    ori: str,
    mt: str,
    reason: str,
    *,
    op: str = "op1",
    subject: str | None = None,
    case: str | None = None,
    when: dt.datetime | None = None,
) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": f"{ori}-{n:05d}",
        "occurred_at": (when or T0 + dt.timedelta(seconds=seconds)).isoformat(),
        "ori": ori,
        "operator_id": f"{ori}-{op}",
        "terminal_id": "T1",
        "message_type": mt,
        "purpose_code": "C" if mt in ("QH", "QR") else None,
        "reason": reason,
        "case_number": case,
        "subject": {"name": subject or f"Person {n}", "dob": "1980-01-01"},
    }


def background(
    start_window: int, windows: int, ori: str = SFPD, per_window: int = 2, base: int = 50000
) -> Iterator[dict[str, Any]]:
    """Ordinary traffic that moves the watermark and alerts nothing."""
    n = base
    for w in range(start_window, start_window + windows):
        for i in range(per_window):
            n += 1
            yield ev(n, w * 60 + 7 + i * 20, ori, "QH", "burglary 459 PC", op=f"bg{i}", case=f"24-{n}")


def minutely_background(n: int, start: dt.datetime, case: str, count: int = 4) -> list[dict[str, Any]]:
    """``count`` ordinary SFPD queries a minute apart from ``start`` (numbered from ``n``): they move the
    watermark past a scenario at any hour and alert nothing."""
    return [
        ev(n + i, 0, SFPD, "QH", "burglary 459 PC", op="bg", case=case, when=start + dt.timedelta(minutes=i))
        for i in range(count)
    ]


def prohibited_query() -> list[dict[str, Any]]:
    out = [ev(i, 5 + i * 30, ERO, "DQ", "removal target A123456789") for i in range(3)]
    return out + list(background(0, 4))


def immigration_share() -> list[dict[str, Any]]:
    out = [ev(i, 3 + i * 5, HSI, "QH", "removal proceedings A12345678" + str(i)) for i in range(6)]
    out += [ev(10 + i, 40 + i, HSI, "QH", "narcotics 11351 HS", case="HSI-24-7") for i in range(2)]
    return out + list(background(0, 3))


def dmv_by_dhs_surge() -> list[dict[str, Any]]:
    out = [ev(w, w * 60 + 10, CBP, "DQ", "smuggling investigation", case=f"CBP-{w}") for w in range(10)]
    out += [
        ev(
            100 + i,
            600 + 3 + i * 3,
            CBP,
            "RQ" if i % 2 else "DQ",
            "smuggling investigation",
            op=f"op{i % 5}",
            case="CBP-99",
        )
        for i in range(15)
    ]
    return out + list(background(0, 12))


def flatline() -> list[dict[str, Any]]:
    out = [
        ev(
            w * 100 + i,
            w * 60 + i * 4,
            LASD,
            "QH",
            "vehicle theft 10851 VC",
            op=f"op{i % 6}",
            case=f"24-{w}{i}",
        )
        for w in range(15)
        for i in range(12)
    ]
    return out + list(background(0, 30))  # LASD silent from minute 15: ten silent windows by minute 25


def new_term() -> list[dict[str, Any]]:
    # 60 queries of history spread over 8.3 days (the rule learns for 7 days before it judges)
    out = [
        ev(i, i * 12_000, SFPD, "QH", "robbery 211 PC", op=f"op{i % 4}", case=f"24-{i}") for i in range(60)
    ]
    out.append(ev(999, 60 * 12_000 + 200, SFPD, "DQ", "robbery 211 PC", case="24-999"))
    return out + list(background(0, 6, ori=LASD))


def cardinality() -> list[dict[str, Any]]:
    out = [
        ev(i, 2 + i * 4, LASD, "QH", "suspicious person", op="op7", subject=f"Subject {i}") for i in range(12)
    ]
    return out + list(background(0, 4))


def missing_justification() -> list[dict[str, Any]]:
    out = [ev(i, 2 + i * 5, SFPD, "QH", "", op=f"op{i % 3}") for i in range(6)]
    return out + list(background(0, 4, ori=LASD))


def after_hours_burst() -> list[dict[str, Any]]:
    night = dt.datetime(2024, 5, 2, 9, 30, tzinfo=dt.UTC)  # 02:30 in Los Angeles
    out = [
        ev(i, 0, LASD, "DQ", "traffic stop", op="op9", when=night + dt.timedelta(seconds=i * 6))
        for i in range(6)
    ]
    return out + minutely_background(50, night, case="24-1")


def repeat_subject() -> list[dict[str, Any]]:
    out = []
    for day in range(3):
        base = T0 + dt.timedelta(days=day)
        out += [
            ev(
                day * 10 + i,
                0,
                LASD,
                "DQ",
                "follow up",
                op="op3",
                subject="Jane Ex",
                when=base + dt.timedelta(seconds=i * 9),
            )
            for i in range(2)
        ]
        out += minutely_background(900 + day * 10, base, case="24-2")
    return out


STREAMS = {
    f.__name__: f
    for f in (
        prohibited_query,
        immigration_share,
        dmv_by_dhs_surge,
        flatline,
        new_term,
        cardinality,
        missing_justification,
        after_hours_burst,
        repeat_subject,
    )
}


def write_streams() -> None:
    enc = msgspec.json.Encoder()
    for name, build in STREAMS.items():
        events = sorted(build(), key=lambda e: (e["occurred_at"], e["event_id"]))
        (HERE / f"{name}.jsonl").write_bytes(b"".join(enc.encode(e) + b"\n" for e in events))


def replay_alerts(path: Path) -> list[dict[str, Any]]:
    from processors.agencies import AgencyRegistry
    from processors.pipeline import Pipeline, PipelineConfig
    from processors.policy import Classifier, load_policy
    from processors.pseudonymize import Pseudonymizer
    from processors.replay import replay_files

    registry = AgencyRegistry.load()
    pipeline = Pipeline(
        Classifier(load_policy(), registry).classify, registry, Pseudonymizer(GOLDEN_KEY), PipelineConfig()
    )
    result = replay_files([path], pipeline)
    return [
        {
            "alert_id": a.alert_id,
            "rule": a.rule,
            "ori": a.ori,
            "window_start": a.window_start,
            "severity": a.severity,
            "status": a.status,
            "count": a.evidence.count,
            "event_ids": list(a.evidence.event_ids),
        }
        for a in result.sorted_alerts()
    ]


def write_expected() -> None:
    for name in STREAMS:
        alerts = replay_alerts(HERE / f"{name}.jsonl")
        (HERE / f"{name}.expected.json").write_text(json.dumps(alerts, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    write_streams()
    if "--expect" in sys.argv:
        write_expected()
