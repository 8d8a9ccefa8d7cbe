"""Schemathesis against the OpenAPI document the running console publishes: every operation, with
generated valid and invalid requests and stateful sequences, under every check (no server errors,
only documented status codes, responses matching their schemas, invalid input refused, auth enforced)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import run_process
from tests.web.conftest import PASSWORDS, ConsoleServer

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.mark.timeout(120)
def test_published_openapi_holds_under_schemathesis(
    start_console: Callable[..., ConsoleServer], console_db: str, tmp_path: Path
) -> None:
    # schemathesis sends wrong credentials on purpose, hundreds of times: throttling (tested in
    # test_hardening.py) would answer 429 where it expects 401.
    server = start_console(
        console_db, "--login-failures-per-user", "10000/minute", "--login-failures-per-client", "10000/minute"
    )
    report = tmp_path / "schemathesis.txt"
    result = run_process(
        [
            str(SCHEMATHESIS),
            "run",
            f"{server.url}/api/openapi.json",
            "--auth",
            f"sam:{PASSWORDS['sam']}",
            "--checks",
            "all",
            "--max-examples",
            "15",
            "--seed",
            "2019",
            "--workers",
            "1",
            "--no-color",
        ],
        timeout=110,
        cwd=tmp_path,
    )
    report.write_text(result.stdout + result.stderr)
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-80:])
    assert result.returncode == 0, (
        f"schemathesis found problems (full report {report}):\n{tail}\n--- server log ---\n{server.log()[-3000:]}"
    )
    assert "API Operations:" in result.stdout and "Tested: 9" in result.stdout
