"""The command line as a shell user meets it: a pipe closed by the reader ends the command quietly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from clets_watch.cli import PREFERRED_ORDER, build_parser, command_modules


def test_a_closed_pipe_ends_the_command_without_a_traceback(tmp_path: Path) -> None:
    # 30,000 bad lines: `classify` answers each with an error verdict line, far more than a pipe buffers
    source = tmp_path / "in.jsonl"
    source.write_text("not json\n" * 30_000, encoding="utf-8")
    with source.open("rb") as stdin:
        proc = subprocess.Popen(
            [sys.executable, "-m", "clets_watch.cli", "classify"],
            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.read(200)  # like `| head -c 200`: read a little, then go away
        proc.stdout.close()
        err = proc.stderr.read().decode()
        rc = proc.wait(timeout=120)
    assert b'"verdict": "error"' in first or b'"verdict":"error"' in first
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert rc == 141


def test_every_command_module_is_registered_in_a_known_order() -> None:
    found = command_modules()
    assert found[: len([n for n in PREFERRED_ORDER if n in found])] == [n for n in PREFERRED_ORDER if n in found]
    help_text = build_parser().format_help()
    for name in found:
        assert name.replace("_", "-") in help_text or name in help_text, f"{name} missing from --help"
