"""The progress bar of long commands (``replay``, ``audit-year``, ``produce``): one line on stderr, redrawn in
place. ``options.add_progress`` gives each the same ``--progress/--no-progress`` flag."""

from __future__ import annotations

import sys
import time
from typing import IO


def progress_enabled(flag: bool | None, out: IO[str] | None = None, *, quiet: bool = False) -> bool:
    """``--progress``/``--no-progress`` when given; otherwise only when ``out`` (stderr) is a terminal and the
    command was not asked to be ``quiet`` (``--json``, ``--quiet``: output for a program, not a person)."""
    if flag is not None:
        return flag
    return not quiet and (out or sys.stderr).isatty()


class Progress:
    """A one-line progress bar on stderr: done/total, events/s, ETA; redrawn at most twice a second."""

    def __init__(self, total: int, unit: str, out: IO[str], *, enabled: bool) -> None:
        self.total = max(total, 0)
        self.unit = unit
        self.out = out
        self.enabled = enabled
        self.started = time.monotonic()
        self._last = 0.0
        self.events = 0

    def update(self, done: int, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.5:
            return
        self._last = now
        elapsed = max(now - self.started, 1e-9)
        rate = self.events / elapsed
        frac = min(done / self.total, 1.0) if self.total else 0.0
        width = 28
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        eta = (elapsed / frac - elapsed) if frac > 0 else 0.0
        self.out.write(
            f"\r[{bar}] {frac * 100:5.1f}%  {self.events:,} events  {rate:,.0f} events/s  "
            f"ETA {_hms(eta) if frac > 0 else '--:--'}  "
        )
        self.out.flush()

    def finish(self, done: int) -> None:
        if self.enabled:
            self.update(done, force=True)
            self.out.write("\n")
            self.out.flush()


def _hms(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"
