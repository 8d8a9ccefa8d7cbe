"""Held-out phrasing sets: labelled reason strings the classifier was not tuned on, and how it scores on them.

A set is a JSON-lines file; each line is one labelled query:
``{"reason", "case_number", "message_type", "purpose_code", "ori", "occurred_at",
"expected_purpose", "expected_verdict", "note"}``. ``score_phrasings`` classifies each line as a query
event and returns the purpose/verdict confusion matrices and the misses.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from processors.policy.classifier import Classifier
from processors.policy.evaluation import PURPOSES, VERDICTS, Confusion
from schemas import QueryEvent

REQUIRED: Final = ("reason", "message_type", "ori", "occurred_at", "expected_purpose", "expected_verdict")


class PhrasingSetError(ValueError):
    """A held-out set line is malformed; the message names the file, line and problem."""


@dataclass(frozen=True, slots=True)
class Phrasing:
    line: int
    reason: str
    case_number: str | None
    message_type: str
    purpose_code: str | None
    ori: str
    occurred_at: dt.datetime
    expected_purpose: str
    expected_verdict: str
    note: str

    def event(self) -> QueryEvent:
        return QueryEvent(
            schema_version=1,
            event_id=f"heldout-{self.line}",
            occurred_at=self.occurred_at,
            ori=self.ori,
            operator_id="heldout",
            terminal_id="t",
            message_type=self.message_type,
            purpose_code=self.purpose_code,
            reason=self.reason,
            case_number=self.case_number,
        )


@dataclass(frozen=True, slots=True)
class Miss:
    phrasing: Phrasing
    purpose: str
    verdict: str
    rules: tuple[str, ...]

    def describe(self) -> str:
        p = self.phrasing
        case = f" case={p.case_number!r}" if p.case_number else ""
        code = f" code={p.purpose_code}" if p.purpose_code else ""
        return (
            f"line {p.line}: {p.reason!r}{case} {p.message_type}{code} {p.ori}: expected "
            f"{p.expected_purpose}/{p.expected_verdict}, got {self.purpose}/{self.verdict} {list(self.rules)}"
            f"  ({p.note})"
        )


@dataclass(frozen=True, slots=True)
class PhrasingScore:
    purposes: Confusion
    verdicts: Confusion
    misses: tuple[Miss, ...]

    @property
    def total(self) -> int:
        return self.purposes.total

    def summary(self) -> str:
        prohibited = self.verdicts.score("prohibited")
        imm = self.purposes.score("immigration_enforcement")
        return (
            f"n={self.total} purpose accuracy {self.purposes.accuracy():.4f}, verdict accuracy "
            f"{self.verdicts.accuracy():.4f}; prohibited precision {prohibited.precision:.4f} recall "
            f"{prohibited.recall:.4f}; immigration precision {imm.precision:.4f} recall {imm.recall:.4f}"
        )


def load_phrasings(path: str | Path) -> list[Phrasing]:
    out: list[Phrasing] = []
    text = Path(path).read_text(encoding="utf-8")
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PhrasingSetError(f"{path}:{n}: not JSON: {exc}") from exc
        missing = [k for k in REQUIRED if k not in row]
        if missing:
            raise PhrasingSetError(f"{path}:{n}: missing {missing}")
        if row["expected_purpose"] not in PURPOSES or row["expected_verdict"] not in VERDICTS:
            raise PhrasingSetError(
                f"{path}:{n}: unknown label {row['expected_purpose']}/{row['expected_verdict']}"
            )
        try:
            at = dt.datetime.fromisoformat(row["occurred_at"])
        except ValueError as exc:
            raise PhrasingSetError(f"{path}:{n}: occurred_at {row['occurred_at']!r}: {exc}") from exc
        out.append(
            Phrasing(
                line=n,
                reason=row["reason"],
                case_number=row.get("case_number"),
                message_type=row["message_type"],
                purpose_code=row.get("purpose_code"),
                ori=row["ori"],
                occurred_at=at,
                expected_purpose=row["expected_purpose"],
                expected_verdict=row["expected_verdict"],
                note=row.get("note", ""),
            )
        )
    return out


def score_phrasings(classifier: Classifier, phrasings: Iterable[Phrasing]) -> PhrasingScore:
    purposes = Confusion(PURPOSES)
    verdicts = Confusion(VERDICTS)
    misses: list[Miss] = []
    for p in phrasings:
        v = classifier.classify(p.event())
        purposes.add(p.expected_purpose, v.purpose)
        verdicts.add(p.expected_verdict, v.verdict)
        if v.purpose != p.expected_purpose or v.verdict != p.expected_verdict:
            misses.append(Miss(p, v.purpose, v.verdict, v.rules))
    return PhrasingScore(purposes, verdicts, tuple(misses))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m processors.policy.heldout FILE...``: score the bundled policy on held-out sets."""
    import sys

    from processors.agencies import AgencyRegistry
    from processors.policy.loader import load_policy

    paths = list(argv if argv is not None else sys.argv[1:])
    clf = Classifier(load_policy(), AgencyRegistry.load())
    for path in paths:
        score = score_phrasings(clf, load_phrasings(path))
        print(f"{path}: {score.summary()}")
        print(score.purposes.render("purpose"))
        print(score.verdicts.render("verdict"))
        for miss in score.misses:
            print("  MISS", miss.describe())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
