"""No import cycle among the policy package's modules (issue 17: classifier ↔ explain was one).

Every import counts as an edge — at module level, inside a function or under ``TYPE_CHECKING`` — so a cycle
cannot be hidden by moving one side of it into a function or a type-checking block.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = "processors.policy"


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(root: Path, path: Path, known: set[str]) -> set[str]:
    """The known modules ``path`` imports: ``from P import name`` is P, and P.name when that is a module."""
    module = module_name(root, path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known and name != module}


def import_graph(root: Path, package: str = PACKAGE) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` (under ``root``) it imports."""
    paths = sorted(root.joinpath(*package.split(".")).rglob("*.py"))
    known = {module_name(root, p) for p in paths}
    return {module_name(root, p): imports_of(root, p, known) for p in paths}


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that returns to its start, or None (depth-first search)."""
    done: set[str] = set()
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in stack:
            return [*stack[stack.index(node) :], node]
        if node in done:
            return None
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            cycle = visit(nxt)
            if cycle:
                return cycle
        stack.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def test_the_policy_modules_are_found() -> None:
    graph = import_graph(ROOT)
    assert {f"{PACKAGE}.classifier", f"{PACKAGE}.explain", f"{PACKAGE}.decision", PACKAGE} <= set(graph)
    assert f"{PACKAGE}.decision" in graph[f"{PACKAGE}.classifier"]
    assert f"{PACKAGE}.decision" in graph[f"{PACKAGE}.explain"]


def test_no_import_cycle_among_the_policy_modules() -> None:
    cycle = find_cycle(import_graph(ROOT))
    assert cycle is None, "import cycle in processors/policy: " + " -> ".join(cycle or [])


def test_the_check_sees_a_cycle_hidden_in_a_function_or_type_checking(tmp_path: Path) -> None:
    pkg = tmp_path / "processors" / "policy"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n")
    (pkg / "b.py").write_text("def f() -> None:\n    from processors.policy import c\n")
    (pkg / "c.py").write_text("import processors.policy.a\n")
    graph = import_graph(tmp_path)
    assert graph == {
        PACKAGE: set(),
        f"{PACKAGE}.a": {f"{PACKAGE}.b"},
        f"{PACKAGE}.b": {PACKAGE, f"{PACKAGE}.c"},
        f"{PACKAGE}.c": {f"{PACKAGE}.a"},
    }
    assert find_cycle(graph) == [f"{PACKAGE}.a", f"{PACKAGE}.b", f"{PACKAGE}.c", f"{PACKAGE}.a"]
    assert find_cycle({"x": {"y"}, "y": set()}) is None
