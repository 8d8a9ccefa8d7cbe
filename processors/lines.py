"""Bounded line reading for every reader of query events (classify, replay, archives).

A line is never read whole before its size is known: ``bounded_lines`` reads at most the event limit
plus a small buffer for one line, and a longer line is skipped to its end in fixed-size chunks and
reported as an ``OversizedLine`` (a bytes head of the line that knows its full size), so one 1 GiB line
costs 64 KiB of memory and one dead letter, and the lines after it are read as usual. A UTF-8
byte-order mark at the start of a file is dropped; ``open_archive`` refuses a directory or a missing
file with a message naming it, and reads gzip (detected from the content, not the name).

No Kafka, no database: plain files and binary streams.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final, Self

from schemas.events import MAX_EVENT_BYTES

BOM: Final = b"\xef\xbb\xbf"
SKIP_CHUNK: Final = 64 * 1024
_GZIP_MAGIC: Final = b"\x1f\x8b"


class LineReadError(ValueError):
    """A file cannot be read as lines (missing, a directory, damaged gzip); the message names it."""


class OversizedLine(bytes):
    """The first bytes of a line longer than the limit; ``size`` is the whole line's length in bytes.

    The decoder refuses it as ``too_large`` naming ``size`` (``schemas.events.decode_event``)."""

    size: int

    def __new__(cls, head: bytes, size: int) -> Self:
        obj = super().__new__(cls, head)
        obj.size = size
        return obj


def bounded_lines(
    fh: IO[bytes], *, limit: int = MAX_EVENT_BYTES, name: str = "<input>"
) -> Iterator[tuple[int, bytes]]:
    """(line number, line without its end of line) for every line of ``fh``, blank ones included.

    A line longer than ``limit`` bytes comes as an ``OversizedLine`` holding its first ``limit + 1``
    bytes; at most ``limit + 2`` bytes of one line are ever held in memory."""
    lineno = 0
    try:
        while True:
            line = fh.readline(limit + 2)  # the limit, plus "\r\n"
            if not line:
                return
            lineno += 1
            if lineno == 1 and line.startswith(BOM):
                line = line[len(BOM) :]
            if line.endswith(b"\n") or len(line) <= limit:
                yield lineno, line.rstrip(b"\r\n")
                continue
            size = len(line)
            head = line[: limit + 1]
            del line
            while True:  # skip the rest of the line in bounded chunks
                chunk = fh.readline(SKIP_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if chunk.endswith(b"\n"):
                    size -= 1
                    break
            yield lineno, OversizedLine(head, size)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise LineReadError(f"{name} is damaged: cannot read past line {lineno}: {exc}") from exc


def check_input_file(path: Path) -> None:
    """Refuse a missing file or a directory with a clear message."""
    if path.is_dir():
        raise LineReadError(
            f"{path} is a directory: give a .jsonl or .jsonl.gz file (one query event per line)"
        )
    if not path.exists():
        raise LineReadError(f"input file {path} does not exist")


def open_archive(path: Path) -> IO[bytes]:
    """Open a .jsonl or .jsonl.gz file for reading (gzip detected from the first bytes)."""
    check_input_file(path)
    try:
        raw = open(path, "rb")  # noqa: SIM115 - returned to the caller's `with`
    except OSError as exc:
        raise LineReadError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if raw.peek(2)[:2] == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]  # a binary IO
    return raw


def archive_lines(path: Path, *, limit: int = MAX_EVENT_BYTES) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of every non-blank line of an archive, bounded as ``bounded_lines``."""
    with open_archive(path) as fh:
        for lineno, line in bounded_lines(fh, limit=limit, name=str(path)):
            if isinstance(line, OversizedLine) or line.strip():
                yield lineno, line


def stream_lines(fh: IO[bytes] | io.BufferedIOBase, *, name: str = "stdin") -> Iterator[tuple[int, bytes]]:
    """``bounded_lines`` over an already open binary stream (e.g. ``sys.stdin.buffer``)."""
    return bounded_lines(fh, name=name)  # type: ignore[arg-type]
