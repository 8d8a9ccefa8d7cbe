"""Every example in every ``--help`` text runs, and every concrete command in README.md and docs/*.md parses.

A help example is an indented line starting with ``clets-watch``; it is run for real through ``main``, with
only what would leave the machine or take long swapped out (``--to kafka`` becomes an archive in a
temporary folder, ``--pace`` goes with it, ``--minutes`` is capped at 5)."""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from clets_watch.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = re.compile(r"^\s+(?:\$ )?(clets-watch \S.*)$")


def _parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def help_examples() -> list[str]:
    found: dict[str, None] = {}
    for parser in _parsers(build_parser()):
        for line in parser.format_help().splitlines():
            m = EXAMPLE.match(line)
            if m:
                found[m.group(1).strip()] = None
    return list(found)


def _runnable(argv: list[str], tmp: Path) -> list[str]:
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--to":
            target = next(it)
            out += ["--to", str(tmp / ("kafka.jsonl" if target == "kafka" else Path(target).name))]
        elif arg == "--pace":
            next(it)
        elif arg == "--minutes":
            out += ["--minutes", str(min(float(next(it)), 5.0))]
        else:
            out.append(arg)
    return out


def test_the_help_texts_have_examples() -> None:
    assert any("--scenario raid:" in e for e in help_examples())


@pytest.mark.parametrize("example", help_examples())
def test_every_help_example_runs(example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    argv = _runnable(shlex.split(example)[1:], tmp_path)
    assert main(argv) == 0, example


def doc_commands() -> list[tuple[str, str]]:
    """Concrete ``clets-watch`` commands in fenced blocks of README.md and docs/*.md (not program output,
    not synopses with [optional] parts or placeholders)."""
    out: list[tuple[str, str]] = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        fenced = False
        for line in doc.read_text(encoding="utf-8").splitlines():
            if line.startswith("```"):
                fenced = not fenced
                continue
            text = line.split("  #", 1)[0].strip()
            if not fenced or not text.startswith("clets-watch "):
                continue
            words = shlex.split(text)
            if words[1].endswith(":") or any(c in text for c in "[]…|") or "..." in text:
                continue  # output ("clets-watch demo: ..."), or a synopsis
            out.append((doc.name, text))
    return out


def test_the_docs_have_commands() -> None:
    assert len(doc_commands()) >= 10


@pytest.mark.parametrize(("doc", "command"), doc_commands())
def test_every_doc_command_parses(doc: str, command: str) -> None:
    try:
        build_parser().parse_args(shlex.split(command)[1:])
    except SystemExit as exc:
        pytest.fail(f"{doc}: {command!r} does not parse (exit {exc.code})")
