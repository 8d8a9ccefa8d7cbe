"""Event archives: one compact JSON query event per line (``.jsonl`` or gzip'd ``.jsonl.gz``), with the
ground truth in a sidecar ``<name>.truth.jsonl[.gz]`` (one ``{"event_id": …, …truth}`` per line), so that
``replay`` reads the archive alone and evaluation joins the two by ``event_id``.

Writes go to a temporary file renamed into place on success: an interrupted run leaves no half archive.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Self

import msgspec

from producers.simulator import LabelledEvent

_GZIP_MAGIC: Final = b"\x1f\x8b"
_SUFFIXES: Final = (".jsonl.gz", ".json.gz", ".jsonl", ".json", ".gz")
_FLUSH_EVERY: Final = 2048

_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(dict[str, Any])


class ArchiveError(ValueError):
    """An archive cannot be read or written; the message names the file (and line)."""


def truth_path(archive: Path | str) -> Path:
    """The ground-truth sidecar of an archive: ``run.jsonl.gz`` → ``run.truth.jsonl.gz``."""
    path = Path(archive)
    name = path.name
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            if suffix in (".json.gz", ".json"):
                suffix = suffix.replace(".json", ".jsonl")
            return path.with_name(f"{stem}.truth{suffix}")
    return path.with_name(f"{name}.truth.jsonl")


def _is_gzip_name(path: Path) -> bool:
    return path.name.endswith(".gz")


@dataclass(frozen=True, slots=True)
class ArchiveStats:
    path: Path
    truth_path: Path | None
    events: int
    bytes_written: int


class _LineFile:
    """Batched, atomic line writer (gzip when the name ends in ``.gz``)."""

    def __init__(self, path: Path, *, compresslevel: int) -> None:
        self.path = path
        self._tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            raw: IO[bytes] = open(self._tmp, "wb")  # noqa: SIM115 - held open across write() calls, closed in commit/abort
        except OSError as exc:
            raise ArchiveError(f"cannot write {path}: {exc.strerror or exc}") from exc
        self._raw = raw
        self._out: IO[bytes] = raw
        if _is_gzip_name(path):
            self._out = gzip.GzipFile(  # type: ignore[assignment]  # GzipFile is a binary IO
                filename="", mode="wb", fileobj=raw, compresslevel=compresslevel, mtime=0
            )
        self._batch: list[bytes] = []

    def write(self, line: bytes) -> None:
        self._batch.append(line)
        if len(self._batch) >= _FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if self._batch:
            self._batch.append(b"")
            self._out.write(b"\n".join(self._batch))
            self._batch.clear()

    def commit(self) -> int:
        self.flush()
        if self._out is not self._raw:
            self._out.close()
        self._raw.close()
        os.replace(self._tmp, self.path)
        return self.path.stat().st_size

    def abort(self) -> None:
        if self._out is not self._raw:
            self._out.close()
        self._raw.close()
        self._tmp.unlink(missing_ok=True)


class ArchiveWriter:
    """Write labelled events to an archive and (unless ``truth=False``) its truth sidecar.

    Use as a context manager; the files appear only when the block exits without an exception.
    """

    def __init__(self, path: Path | str, *, truth: bool = True, compresslevel: int = 5) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ArchiveError(f"{self.path} is a directory; give an archive file name such as run.jsonl.gz")
        self.truth_path = truth_path(self.path) if truth else None
        self.count = 0
        self._events = _LineFile(self.path, compresslevel=compresslevel)
        self._truth = _LineFile(self.truth_path, compresslevel=compresslevel) if self.truth_path else None
        self._closed = False

    def write(self, item: LabelledEvent) -> None:
        self._events.write(_encoder.encode(item.event))
        if self._truth is not None:
            self._truth.write(_encoder.encode(item.truth))
        self.count += 1

    def write_all(self, items: Iterable[LabelledEvent]) -> None:
        for item in items:
            self.write(item)

    def close(self) -> ArchiveStats:
        if self._closed:
            raise ArchiveError(f"archive {self.path} is already closed")
        self._closed = True
        size = self._events.commit()
        if self._truth is not None:
            self._truth.commit()
        return ArchiveStats(self.path, self.truth_path, self.count, size)

    def abort(self) -> None:
        if not self._closed:
            self._closed = True
            self._events.abort()
            if self._truth is not None:
                self._truth.abort()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            if not self._closed:
                self.stats = self.close()
        else:
            self.abort()


class TruthWriter:
    """Ground truth alone (for events sent to Kafka): one ``{"event_id": …, …}`` line per event."""

    def __init__(self, path: Path | str, *, compresslevel: int = 5) -> None:
        self.path = Path(path)
        self.count = 0
        self._file = _LineFile(self.path, compresslevel=compresslevel)
        self._closed = False

    def write(self, item: LabelledEvent) -> None:
        self._file.write(_encoder.encode(item.truth))
        self.count += 1

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._file.commit()

    def abort(self) -> None:
        if not self._closed:
            self._closed = True
            self._file.abort()


def write_archive(path: Path | str, items: Iterable[LabelledEvent], *, truth: bool = True) -> ArchiveStats:
    """Write every labelled event to ``path`` (and the truth sidecar); return what was written."""
    writer = ArchiveWriter(path, truth=truth)
    try:
        writer.write_all(items)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def _open_lines(path: Path) -> IO[bytes]:
    try:
        raw: io.BufferedReader = open(path, "rb")  # noqa: SIM115 - returned to the caller's `with`
    except OSError as exc:
        raise ArchiveError(f"cannot read archive {path}: {exc.strerror or exc}") from exc
    if raw.peek(2)[:2] == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]  # a binary IO
    return raw


def iter_lines(path: Path | str) -> Iterator[bytes]:
    """The raw non-blank lines of an archive (gzip detected from the content, not the name); bounded:
    a line longer than the event limit is never read whole (it comes as a truncated ``OversizedLine``)."""
    from processors.lines import LineReadError, archive_lines

    p = Path(path)
    try:
        for _lineno, line in archive_lines(p):
            yield line
    except LineReadError as exc:
        raise ArchiveError(f"cannot read archive {p}: {exc}") from exc


def read_events(path: Path | str) -> Iterator[dict[str, Any]]:
    """The events of an archive as JSON objects (not validated: the pipeline's decoder does that)."""
    for lineno, line in enumerate(iter_lines(path), start=1):
        try:
            yield _decoder.decode(line)
        except msgspec.DecodeError as exc:
            raise ArchiveError(f"{path} line {lineno}: not a JSON object: {exc}") from None


def read_truth(path: Path | str) -> Iterator[dict[str, Any]]:
    """The ground-truth records of an archive (give the archive or the sidecar itself)."""
    p = Path(path)
    sidecar = p if ".truth." in p.name else truth_path(p)
    if not sidecar.exists():
        raise ArchiveError(f"no ground truth beside {p}: expected {sidecar}")
    yield from read_events(sidecar)


def read_labelled(path: Path | str) -> Iterator[LabelledEvent]:
    """Events joined with their truth, line by line (the writer keeps both files in the same order)."""
    pairs = enumerate(zip(read_events(path), read_truth(path), strict=True), start=1)
    while True:
        try:
            lineno, (event, truth) = next(pairs)
        except StopIteration:
            return
        except ArchiveError:
            raise
        except ValueError:  # zip(strict=True): one file ended first
            raise ArchiveError(f"{path} and {truth_path(path)} hold different numbers of lines") from None
        if event.get("event_id") != truth.get("event_id"):
            raise ArchiveError(
                f"{path} line {lineno}: event {event.get('event_id')!r} has truth for {truth.get('event_id')!r}"
            )
        yield LabelledEvent(event=event, truth=truth)
