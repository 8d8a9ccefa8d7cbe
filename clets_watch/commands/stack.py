"""``clets-watch stack up|down|status|check``: the local Kafka, PostgreSQL, Prometheus and Alertmanager."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from clets_watch.commands.options import Subcommands, add_command, add_json
from clets_watch.stack import SERVICES, ServiceStatus, Stack, StackConfig, StackError, system_requirements


def register(sub: Subcommands) -> None:
    parser = add_command(
        sub,
        "stack",
        run=run,
        help="start, stop or inspect the local services (Kafka, PostgreSQL, Prometheus, Alertmanager)",
        description=(
            "Run the services clets-watch needs as local processes on 127.0.0.1, with data, pid files and "
            "logs under one folder. 'up' reuses what already runs; 'down' stops it."
        ),
    )
    parser.add_argument(
        "action",
        choices=("up", "down", "status", "check"),
        help="up: start (idempotent); down: stop; status: what runs where; check: what the machine lacks",
    )
    parser.add_argument(
        "--services",
        default=",".join(SERVICES),
        metavar="LIST",
        help=f"comma-separated subset of {','.join(SERVICES)} (default: all)",
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help="folder for data, pid files and logs (default: <CLETS_WATCH_HOME>/stack)",
    )
    add_json(parser, "check: one requirement per line; up/down/status: one line with home, services, env")


def _stack(args: argparse.Namespace) -> Stack:
    from clets_watch.settings import get_settings

    home = args.home if args.home is not None else get_settings().home / "stack"
    from clets_watch.cli import UserError

    try:
        return Stack(StackConfig.from_home(home))
    except StackError as exc:
        raise UserError(str(exc)) from exc


def _services(args: argparse.Namespace) -> list[str]:
    from clets_watch.cli import UserError

    names = [s.strip() for s in str(args.services).split(",") if s.strip()]
    unknown = [s for s in names if s not in SERVICES]
    if unknown:
        raise UserError(
            f"unknown service(s) {', '.join(unknown)} in --services; choose from {', '.join(SERVICES)}"
        )
    if not names:
        raise UserError(f"--services is empty; choose from {', '.join(SERVICES)}")
    return names


def format_table(statuses: list[ServiceStatus]) -> str:
    rows = [("SERVICE", "STATE", "PID", "ADDRESS", "DATA", "DETAIL")]
    for st in statuses:
        rows.append(
            (
                st.name,
                "running" if st.running else "stopped",
                str(st.pid or "-"),
                st.address,
                st.data_dir,
                st.detail,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def run(args: argparse.Namespace) -> int:
    from clets_watch.cli import UserError

    names = _services(args)
    if args.action == "check":
        reqs = system_requirements(names)
        if args.json:
            for r in reqs:
                print(json.dumps({"name": r.name, "found": r.found, "install": r.install}))
        else:
            for r in reqs:
                print(("ok       " if r.ok else "MISSING  ") + r.message())
        return 0 if all(r.ok for r in reqs) else 1

    stack = _stack(args)
    try:
        if args.action == "up":
            if not args.json:
                print(f"starting {', '.join(names)} under {stack.home} ...", file=sys.stderr)
            statuses = stack.up(names)
            if "postgres" in names:
                stack.create_database("clets_watch")
        elif args.action == "down":
            statuses = stack.down(names)
        else:
            statuses = stack.status(names)
    except StackError as exc:
        raise UserError(str(exc)) from exc

    if args.json:
        print(
            json.dumps(
                {
                    "home": str(stack.home),
                    "services": [s.to_dict() for s in statuses],
                    "env": _env_hints(stack, names),
                }
            )
        )
        return 0
    print(format_table(statuses))
    if args.action == "up":
        print("\nuse it with:")
        for key, value in _env_hints(stack, names).items():
            print(f"  export {key}={value}")
        print(f"logs: {stack.home / 'logs'}")
    return 0


def _env_hints(stack: Stack, names: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    if "kafka" in names:
        env["CLETS_WATCH_KAFKA_BOOTSTRAP"] = stack.kafka_bootstrap
    if "postgres" in names:
        env["CLETS_WATCH_DB_URL"] = stack.postgres_url()
    if "alertmanager" in names:
        env["CLETS_WATCH_ALERTMANAGER_URL"] = stack.alertmanager_url
    return env
