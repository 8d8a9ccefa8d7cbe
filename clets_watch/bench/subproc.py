"""Run one bench stage in a fresh interpreter and read back its JSON result (the last stdout line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any


class StageError(RuntimeError):
    """A bench stage failed; the message names the stage and shows the end of its output."""


def run_stage(
    module: str, args: list[str], *, timeout: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    cmd = [sys.executable, "-m", module, *args]
    try:
        proc = subprocess.run(
            cmd,
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise StageError(f"{module} did not finish within {timeout:.0f}s") from exc
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout)[-3000:]
        raise StageError(f"{module} {' '.join(args)} failed with exit code {proc.returncode}:\n{tail}")
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        raise StageError(f"{module} printed no JSON result: {lines[-1][:200]!r}") from exc
    return result


def emit(result: dict[str, Any]) -> None:
    """A stage's result on stdout, one line, for ``run_stage``."""
    print(json.dumps(result), flush=True)
