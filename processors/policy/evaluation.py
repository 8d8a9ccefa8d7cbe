"""Precision, recall, F1 and confusion matrices of predicted vs. expected labels (``clets-watch eval``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

VERDICTS: Final = ("prohibited", "review", "allowed")
PURPOSES: Final = ("immigration_enforcement", "criminal_justice", "non_criminal_justice", "unknown")


@dataclass(frozen=True, slots=True)
class ClassScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int  # expected count
    predicted: int


@dataclass(slots=True)
class Confusion:
    """Counts of (expected, predicted) pairs over a fixed label set."""

    labels: tuple[str, ...]
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, expected: str, predicted: str) -> None:
        self.counts[(expected, predicted)] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def accuracy(self) -> float:
        total = self.total
        return sum(n for (e, p), n in self.counts.items() if e == p) / total if total else 0.0

    def score(self, label: str) -> ClassScore:
        tp = self.counts[(label, label)]
        predicted = sum(n for (_, p), n in self.counts.items() if p == label)
        support = sum(n for (e, _), n in self.counts.items() if e == label)
        precision = tp / predicted if predicted else (1.0 if not support else 0.0)
        recall = tp / support if support else (1.0 if not predicted else 0.0)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return ClassScore(label, precision, recall, f1, support, predicted)

    def scores(self) -> list[ClassScore]:
        return [self.score(label) for label in self.all_labels()]

    def all_labels(self) -> tuple[str, ...]:
        extra = sorted({x for pair in self.counts for x in pair} - set(self.labels))
        return self.labels + tuple(extra)

    def matrix(self) -> list[list[int]]:
        labels = self.all_labels()
        return [[self.counts[(e, p)] for p in labels] for e in labels]

    def as_dict(self) -> dict[str, Any]:
        labels = self.all_labels()
        return {
            "accuracy": self.accuracy(),
            "per_class": {
                s.label: {
                    "precision": s.precision,
                    "recall": s.recall,
                    "f1": s.f1,
                    "support": s.support,
                    "predicted": s.predicted,
                }
                for s in self.scores()
            },
            "confusion": {"labels": list(labels), "rows_expected_cols_predicted": self.matrix()},
        }

    def render(self, title: str) -> str:
        labels = self.all_labels()
        width = max(len(x) for x in labels) + 2
        lines = [
            f"{title}  (accuracy {self.accuracy():.4f}, n={self.total})",
            f"  {'':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}{'predicted':>10}",
        ]
        for s in self.scores():
            lines.append(
                f"  {s.label:<{width}}{s.precision:>10.4f}{s.recall:>10.4f}{s.f1:>10.4f}"
                f"{s.support:>10}{s.predicted:>10}"
            )
        short = [x[:10] for x in labels]
        lines.append("  confusion (rows expected, columns predicted)")
        lines.append(f"  {'':<{width}}" + "".join(f"{s:>12}" for s in short))
        for label, row in zip(labels, self.matrix()):
            lines.append(f"  {label:<{width}}" + "".join(f"{n:>12}" for n in row))
        return "\n".join(lines)


def confusion(pairs: Iterable[tuple[str, str]], labels: Sequence[str]) -> Confusion:
    c = Confusion(tuple(labels))
    for expected, predicted in pairs:
        c.add(expected, predicted)
    return c
