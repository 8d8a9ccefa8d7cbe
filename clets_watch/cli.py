"""The ``clets-watch`` command line: the front door to every job."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from clets_watch import __version__

# Each module in clets_watch/commands/ registers its sub-commands. These come first in --help, in this
# order; any other command module follows in alphabetical order.
PREFERRED_ORDER: tuple[str, ...] = (
    "demo",
    "produce",
    "worker",
    "replay",
    "classify",
    "incidents",
    "alerts",
    "access",
    "report",
    "disclosures",
    "serve",
    "bench",
    "stack",
)


# Modules in clets_watch/commands/ that are helpers, not commands.
NOT_COMMANDS: frozenset[str] = frozenset({"options"})


def command_modules() -> list[str]:
    import clets_watch.commands as package

    found = {
        m.name
        for m in pkgutil.iter_modules(package.__path__)
        if not m.name.startswith("_") and m.name not in NOT_COMMANDS
    }
    return [n for n in PREFERRED_ORDER if n in found] + sorted(found - set(PREFERRED_ORDER))


from clets_watch.errors import UserError

__all__ = ["UserError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clets-watch",
        description=(
            "Watch CLETS queries for misuse: classify each query's purpose under a versioned policy, "
            "count per agency over event-time windows, and alert on-call staff, dashboards and auditors."
        ),
    )
    parser.add_argument("--version", action="version", version=f"clets-watch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_modules():
        module = importlib.import_module(f"clets_watch.commands.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"clets-watch {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`clets-watch alerts --json | head`): stop quietly, as other Unix tools do,
        # and keep Python from reporting the pipe again when it flushes stdout at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, the status a shell reports for a tool stopped by a closed pipe


if __name__ == "__main__":
    sys.exit(main())
