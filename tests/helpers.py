"""Helpers shared by several test folders: run a command in process, run a program as a process, and the
alerts on-call must be told about."""

from __future__ import annotations

import argparse
import io
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

#: the Prometheus alerts on-call must be told about (issue #5 and the stalled consumer of issue #7)
REQUIRED_ALERTS = frozenset(
    {
        "DHSProhibitedQueries",
        "AgencySuspensionRecommended",
        "CletsPipelineStalled",
        "CletsWatermarkStalled",
        "CletsDeadLetterSpike",
        "CletsSinkBacklog",
        "CletsWorkerDown",
    }
)


def run_cmd(command: ModuleType, *argv: str) -> tuple[int, str]:
    """One ``clets-watch`` command (a module of ``clets_watch.commands``) in process: ``argv`` starts with
    the command's name; returns its exit code and what it wrote."""
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    rc = int(command.run(parser.parse_args(list(argv)), out=out))
    return rc, out.getvalue()


def run_ok(command: ModuleType, *argv: str) -> str:
    """``run_cmd`` that must exit 0; returns what the command wrote."""
    rc, out = run_cmd(command, *argv)
    assert rc == 0, f"{' '.join(argv)} exited {rc}:\n{out}"
    return out


def run_process(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """A program run to its end with no input, its output captured as text; the exit code is the caller's
    to check."""
    return subprocess.run(
        list(argv),
        env=dict(env) if env is not None else None,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
