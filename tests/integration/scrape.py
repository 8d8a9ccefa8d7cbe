"""Keep a worker in the test Prometheus' scrape targets while a test needs it.

The test stack is shared by every live pytest session, and ``prometheus.set_targets`` replaces the whole
target list: another session setting (or clearing) its own targets drops ours. ``KeepScraped`` adds the
target to the list (never removing anyone else's), re-adds it every half second while the test runs, and
removes only its own target at the end.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Self

from clets_watch.stack import Stack


@dataclass
class KeepScraped:
    stack: Stack
    target: str
    every: float = 0.5
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def _targets(self) -> list[str]:
        try:
            groups: list[dict[str, Any]] = json.loads(self.stack.targets_file.read_text() or "[]")
        except (OSError, ValueError):
            return []
        return [t for g in groups for t in g.get("targets", [])]

    def _ensure(self, present: bool) -> None:
        # no stack lock: it is not thread-safe within one session, and a lost race is repaired next round
        targets = self._targets()
        if (self.target in targets) == present:
            return
        wanted = [*targets, self.target] if present else [t for t in targets if t != self.target]
        self.stack.set_scrape_targets(wanted)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._ensure(True)

    def __enter__(self) -> Self:
        self._ensure(True)
        self._thread = threading.Thread(target=self._run, name=f"keep-scraped-{self.target}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._ensure(False)
