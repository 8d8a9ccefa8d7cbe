"""Run the real ``clets-watch worker`` as a process for integration tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from clets_watch.kafka_admin import group_lag


@dataclass
class WorkerProcess:
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    _log: object = field(default=None, repr=False)

    def start(self) -> WorkerProcess:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "clets_watch.cli", "worker", "--log-level", "info"],
            env={**os.environ, **self.env},
            stdout=self._log,  # type: ignore[arg-type]
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()  # type: ignore[attr-defined]
        return self.proc.returncode

    def wait_consumed(
        self, bootstrap: str, group: str, topic: str, *, timeout: float = 120.0, also: Callable[[], bool] | None = None
    ) -> float:
        """Wait until the group's lag on ``topic`` is 0 (and ``also()`` holds); return seconds waited."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if not self.alive():
                raise AssertionError(f"worker exited with {self.proc.returncode if self.proc else None}:\n{self.log()[-4000:]}")
            if group_lag(bootstrap, group, topic) == 0 and (also is None or also()):
                return time.monotonic() - began
            time.sleep(0.5)
        raise AssertionError(f"worker did not consume {topic} within {timeout}s:\n{self.log()[-4000:]}")
