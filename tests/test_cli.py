"""The command line as a shell user meets it: a pipe closed by the reader ends the command quietly; the common
options (--db, --bootstrap, --log-level, --json) are spelt and mean the same on every command."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from clets_watch.cli import PREFERRED_ORDER, build_parser, command_modules, main
from clets_watch.commands import options


def test_a_closed_pipe_ends_the_command_without_a_traceback(tmp_path: Path) -> None:
    # 30,000 bad lines: `classify` answers each with an error verdict line, far more than a pipe buffers
    source = tmp_path / "in.jsonl"
    source.write_text("not json\n" * 30_000, encoding="utf-8")
    with source.open("rb") as stdin:
        proc = subprocess.Popen(
            [sys.executable, "-m", "clets_watch.cli", "classify"],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
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
    assert found[: len([n for n in PREFERRED_ORDER if n in found])] == [
        n for n in PREFERRED_ORDER if n in found
    ]
    help_text = build_parser().format_help()
    for name in found:
        assert name.replace("_", "-") in help_text or name in help_text, f"{name} missing from --help"


def _all_parsers() -> list[argparse.ArgumentParser]:
    """The top-level parser and every sub-parser under it, each once (aliases share one parser)."""
    seen: dict[int, argparse.ArgumentParser] = {}
    todo = [build_parser()]
    while todo:
        p = todo.pop()
        if id(p) in seen:
            continue
        seen[id(p)] = p
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(action.choices.values())
    return list(seen.values())


def _options(name: str) -> list[tuple[str, argparse.Action]]:
    return [(p.prog, a) for p in _all_parsers() for a in p._actions if name in a.option_strings]


# A command whose --db has another default says so through options.add_db(default=...), and only here.
OTHER_DB_DEFAULTS = {"clets-watch bench": "a SQLite file in a temporary folder, for the worker"}


def _db_spelt(prog: str, a: argparse.Action) -> bool:
    return a.metavar == "URL" and a.help == options.db_help(OTHER_DB_DEFAULTS.get(prog, options.DB_DEFAULT))


def _bootstrap_spelt(prog: str, a: argparse.Action) -> bool:
    return (a.metavar, a.help) == ("HOST:PORT", options.BOOTSTRAP_HELP)


def _progress_spelt(prog: str, a: argparse.Action) -> bool:
    return (
        isinstance(a, argparse.BooleanOptionalAction)
        and a.option_strings == ["--progress", "--no-progress"]
        and a.default is None
        and a.help == options.PROGRESS_HELP
    )


# option, the commands that must have it, how many copies at least (sub-commands repeat some), how it is spelt
COMMON_OPTIONS: list[tuple[str, set[str], int, Callable[[str, argparse.Action], bool]]] = [
    (
        "--db",
        {"access", "alerts", "bench", "disclosures", "incidents", "replay", "report", "serve", "worker"},
        10,
        _db_spelt,
    ),
    ("--bootstrap", {"worker", "produce", "replay", "audit-year", "dead-letter"}, 5, _bootstrap_spelt),
    ("--progress", {"produce", "replay", "audit-year"}, 3, _progress_spelt),
]


@pytest.mark.parametrize(("option", "commands", "copies", "spelt"), COMMON_OPTIONS, ids=lambda x: x)
def test_every_common_option_is_spelt_the_same(
    option: str, commands: set[str], copies: int, spelt: Callable[[str, argparse.Action], bool]
) -> None:
    found = _options(option)
    assert {prog.split()[1] for prog, _ in found} >= commands
    assert len(found) >= copies, "the walk missed the sub-commands' copies"
    for prog, a in found:
        assert a.option_strings[0] == option and spelt(prog, a), (prog, a.metavar, a.help)


def test_every_command_and_action_runs_a_function() -> None:
    """``options.add_command`` gave each parser that can end a command line a function for ``cli.main``."""
    ends = 0
    todo: list[tuple[argparse.ArgumentParser, object]] = [(build_parser(), None)]
    while todo:
        p, inherited = todo.pop()
        func = p._defaults.get("func", inherited)
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if p.prog != "clets-watch" and (not subs or not subs[0].required):
            assert callable(func), f"{p.prog} runs nothing"
            ends += 1
        for a in subs:
            todo.extend((child, func) for child in a.choices.values())
    assert ends >= 25


def test_every_log_level_option_has_the_same_choices() -> None:
    found = _options("--log-level")
    assert {prog for prog, _ in found} >= {"clets-watch worker", "clets-watch serve"}
    for prog, a in found:
        assert (
            tuple(a.choices or ()) == options.LOG_LEVELS == ("critical", "error", "warning", "info", "debug")
        ), prog
        assert a.metavar == "LEVEL" and a.default in options.LOG_LEVELS, prog


def test_every_json_option_means_json_lines() -> None:
    found = _options("--json")
    assert len({prog.split()[1] for prog, _ in found}) >= 14, "the walk missed sub-parsers"
    for prog, a in found:
        assert isinstance(a, argparse._StoreTrueAction), prog
        assert (a.help or "").startswith("JSON lines (one JSON object per line): "), (prog, a.help)


def test_no_other_spelling_of_a_common_option() -> None:
    others = {
        "--database",
        "--database-url",
        "--db-url",
        "--dsn",
        "--bootstrap-server",
        "--bootstrap-servers",
        "--broker",
        "--brokers",
        "--kafka",
        "--kafka-bootstrap",
        "--loglevel",
        "--log_level",
        "--json-lines",
        "--jsonl",
    }
    for p in _all_parsers():
        for a in p._actions:
            assert not others & set(a.option_strings), (p.prog, a.option_strings)


def test_a_sub_command_keeps_a_common_option_given_before_it() -> None:
    parser = build_parser()
    for argv in (
        ["alerts", "--db", "sqlite:///a.db", "list"],
        ["incidents", "--db", "sqlite:///a.db", "list"],
        ["disclosures", "--db", "sqlite:///a.db", "list"],
        ["access", "--db", "sqlite:///a.db", "list"],
    ):
        assert parser.parse_args(argv).db == "sqlite:///a.db", argv
    assert parser.parse_args(["alerts", "list", "--db", "sqlite:///b.db"]).db == "sqlite:///b.db"
    assert parser.parse_args(["alerts", "--json", "list"]).json is True


def test_a_json_list_prints_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["produce", "--list-scenarios", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 3 and all(isinstance(json.loads(line), dict) for line in lines)


def test_the_readme_command_table_lists_every_command() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Commands", 1)[1].split("\n\n", 2)[1]
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name in sub.choices:
        assert f"| `clets-watch {name}" in table or f"/ `{name} " in table, (
            f"{name} missing from README's table"
        )
    assert "Common options: --db URL, --bootstrap HOST:PORT, --log-level LEVEL, --json (JSON lines)" in readme


def test_no_help_line_is_wider_than_the_help_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new user's finding: produce --help printed its description as one 351-character line. Every
    command's help, at a terminal of HELP_WIDTH columns, keeps within it."""
    import argparse

    from clets_watch.cli import build_parser
    from clets_watch.commands.options import HELP_WIDTH

    monkeypatch.setenv("COLUMNS", str(HELP_WIDTH))

    def parsers(p: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.ArgumentParser]]:
        found = [(path, p)]
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found += parsers(sub, f"{path} {name}")
        return found

    wide = [
        (path, line)
        for path, parser in parsers(build_parser(), "clets-watch")
        for line in parser.format_help().splitlines()
        if len(line) > HELP_WIDTH
    ]
    assert wide == []
