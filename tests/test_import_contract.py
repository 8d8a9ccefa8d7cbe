"""The pure core imports no I/O: a unit test, the Faust worker and the offline replay run the very same code.

Core = every module under processors/ and schemas/, except the Faust adapter (processors/app.py), which wires
the core to Kafka, the database and metrics, and the composition root (processors/build.py), which reads the
settings to build the one pipeline every entry point runs. Imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE_DIRS = ("processors", "schemas")
ADAPTERS = {Path("processors/app.py"), Path("processors/build.py")}
FORBIDDEN = (
    "faust",
    "aiokafka",
    "kafka",
    "confluent_kafka",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "prometheus_client",
    "fastapi",
    "uvicorn",
    "httpx",
    "requests",
    "sinks",
    "clets_watch",
    "producers",
)


def core_modules() -> list[Path]:
    found = [p.relative_to(ROOT) for d in CORE_DIRS for p in sorted((ROOT / d).rglob("*.py"))]
    return [p for p in found if p not in ADAPTERS and "migrations" not in p.parts]


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"), filename=str(path))
    names: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append((node.lineno, node.module))
    return names


def forbidden(module: str) -> bool:
    return any(module == f or module.startswith(f + ".") for f in FORBIDDEN)


def test_the_core_is_found() -> None:
    modules = {str(p) for p in core_modules()}
    assert {"processors/pipeline.py", "processors/windows.py", "schemas/events.py"} <= modules
    assert any(m.startswith("processors/policy/") for m in modules)
    assert any(m.startswith("processors/rules/") for m in modules)


@pytest.mark.parametrize("path", core_modules(), ids=str)
def test_core_module_imports_no_io(path: Path) -> None:
    bad = [f"line {line}: import {name}" for line, name in imported_modules(path) if forbidden(name)]
    assert not bad, f"{path} is pure core but imports I/O: {', '.join(bad)}"


def test_the_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    assert forbidden("sqlalchemy.orm") and forbidden("sinks") and forbidden("clets_watch.settings")
    assert not forbidden("kafkaesque") and not forbidden("processors.windows")
