"""`make test` runs the quality gates before pytest, and each gate fails on the kind of error it guards."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _make_dry_run(target: str) -> list[str]:
    out = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", "-W", "requirements.lock", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
    ).stdout
    return [line for line in out.splitlines() if line.strip()]


def test_make_test_runs_lint_format_and_types_before_pytest() -> None:
    lines = _make_dry_run("test")

    def index(needle: str) -> int:
        found = [i for i, line in enumerate(lines) if needle in line]
        assert found, f"`make test` does not run {needle!r}:\n" + "\n".join(lines)
        return found[0]

    pytest_at = index("bin/pytest")
    assert index("ruff check .") < pytest_at
    assert index("ruff format --check .") < pytest_at
    assert index("bin/mypy") < pytest_at


@pytest.mark.parametrize(
    ("tool", "source"),
    [
        (["ruff", "check"], "import os\n"),  # an unused import
        (["ruff", "format", "--check"], "x = {  'a':1 }\n"),  # not formatted
        (["mypy", "--strict"], "def f(x: int) -> str:\n    return x\n"),  # a type error
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_each_gate_fails_on_its_kind_of_error(tool: list[str], source: str, tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")  # the project's own configuration
    bad = tmp_path / "bad.py"
    bad.write_text(source, encoding="utf-8")
    args = [str(BIN / tool[0]), *tool[1:], str(bad)]
    if tool[0] == "mypy":
        args[1:1] = ["--config-file", str(tmp_path / "pyproject.toml")]
    failed = subprocess.run(
        args, check=False, cwd=tmp_path, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    assert failed.returncode != 0, failed.stdout + failed.stderr
    bad.write_text('"""A clean module."""\n\n\ndef f(x: int) -> int:\n    return x\n', encoding="utf-8")
    passed = subprocess.run(
        args, check=False, cwd=tmp_path, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    assert passed.returncode == 0, passed.stdout + passed.stderr
