"""The offline loop behind ``clets-watch replay``: archive lines -> the same Pipeline -> results.

Pure apart from reading the archive files: no Kafka, no database. Archives are ``.jsonl`` or
``.jsonl.gz`` files with one query event per line; each event's source is ``<file name>:<line>``.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from processors.pipeline import Pipeline, PipelineStats, StepResult
from processors.recommendation import Recommendation
from schemas import Aggregate, Alert, DeadLetter


class ArchiveError(ValueError):
    """An archive file cannot be read; the message names the file."""


@dataclass(slots=True)
class ReplayResult:
    alerts: list[Alert] = field(default_factory=list)
    aggregates: list[Aggregate] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    stats: PipelineStats = field(default_factory=PipelineStats)

    def add(self, step: StepResult) -> None:
        self.alerts.extend(step.alerts)
        self.aggregates.extend(step.aggregates)
        self.dead_letters.extend(step.dead_letters)
        self.recommendations.extend(step.recommendations)

    def sorted_alerts(self) -> list[Alert]:
        """Alerts in a deterministic order: window start, rule, key, alert id."""
        return sorted(self.alerts, key=lambda a: (a.window_start, a.rule, a.key, a.alert_id, a.status))


def iter_archive(path: Path) -> Iterator[tuple[bytes, str]]:
    """(raw line, source) for every non-blank line of a .jsonl or .jsonl.gz archive."""
    try:
        with path.open("rb") as raw_fh:
            gz = raw_fh.read(2) == b"\x1f\x8b"
        fh = gzip.open(path, "rb") if gz else path.open("rb")  # noqa: SIM115 - closed by the with below
        with fh:
            for lineno, line in enumerate(fh, start=1):
                line = line.rstrip(b"\r\n")
                if line.strip():
                    yield line, f"{path.name}:{lineno}"
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ArchiveError(f"cannot read archive {path}: {exc}") from exc


def replay_lines(lines: Iterable[tuple[bytes, str]], pipeline: Pipeline) -> ReplayResult:
    """Run (raw, source) lines through the pipeline, then close it (end of a bounded input)."""
    result = ReplayResult()
    for raw, source in lines:
        result.add(pipeline.process_raw(raw, source=source))
    result.add(pipeline.close())
    result.stats = pipeline.stats
    return result


def replay_files(paths: Iterable[Path], pipeline: Pipeline) -> ReplayResult:
    """Replay archive files in the order given, as one stream."""

    def lines() -> Iterator[tuple[bytes, str]]:
        for path in paths:
            yield from iter_archive(path)

    return replay_lines(lines(), pipeline)


_json = msgspec.json.Encoder(order="sorted")


def alert_json(alert: Alert) -> bytes:
    """One alert as a JSON line body with sorted keys (byte-identical across runs)."""
    return _json.encode(alert)
