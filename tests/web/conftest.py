"""Fixtures for the console tests: a database filled by a real replay of simulated traffic with an
immigration raid (the same Pipeline as the worker, written with BatchWriter.write_batch), console
users, the app in-process, and ``clets-watch serve`` as a real process."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from clets_watch.web.app import ConsoleConfig, create_app
from clets_watch.web.users import add_user
from processors.agencies import AgencyRegistry
from processors.pipeline import Pipeline, PipelineConfig
from processors.policy import Classifier, load_policy
from processors.pseudonymize import Pseudonymizer
from producers.simulator import generate
from sinks.writer import SinkBatch
from tests.sinks.stores import Stores

if TYPE_CHECKING:
    from httpx2 import Response  # what starlette's TestClient answers with

RAID_START = "2019-06-12T05:00:00-07:00"
PASSWORDS = {"vic": "viewer-password-1", "rita": "responder-password-1", "sam": "supervisor-password-1"}
ROLES = {"vic": "viewer", "rita": "responder", "sam": "supervisor"}
ICE_ERO = "CAICE0100"


def fill_database(url: str) -> dict[str, int]:
    """Replay an hour of simulated traffic with a raid into the database at ``url``; record the
    pipeline's access recommendations and two disclosure filings. Returns counts for assertions."""
    registry = AgencyRegistry.load(None)
    pipeline = Pipeline(
        Classifier(load_policy(None), registry).classify,
        registry,
        Pseudonymizer(b"console-test-key"),
        PipelineConfig(),
    )
    items = generate(
        seed=2019,
        start=dt.datetime.fromisoformat(RAID_START),
        duration=dt.timedelta(minutes=60),
        rate_per_second=2.0,
        scenarios=["raid"],
    )
    batch = SinkBatch()
    recommendations = []
    for offset, item in enumerate(items):
        step = pipeline.process_raw(json.dumps(item.event).encode(), source=f"clets.queries/0/{offset}")
        if step.processed is not None:
            batch.processed.append(step.processed)
        batch.aggregates += step.aggregates
        batch.alerts += step.alerts
        batch.incidents += step.incidents
        batch.dead_letters += step.dead_letters
        recommendations += step.recommendations
    tail = pipeline.close()
    batch.aggregates += tail.aggregates
    batch.alerts += tail.alerts
    batch.incidents += tail.incidents
    recommendations += tail.recommendations
    with Stores.open(url) as sink:
        result = sink.writer.write_batch(batch)
        for rec in recommendations:
            agency = registry.get(rec.ori)
            sink.recommendations.recommend(
                rec.ori,
                rec.level,
                reason=rec.reason or rec.action,
                actor=rec.by,
                alert_ids=rec.alert_ids,
                component=agency.component if agency else None,
            )
        sink.disclosures.record(
            ICE_ERO,
            2018,
            filed_at=dt.datetime(2019, 6, 3, tzinfo=dt.UTC),
            investigations_opened=0,
            outcomes="none reported",
        )
        sink.disclosures.record(ICE_ERO, 2019, filed_at=None, investigations_opened=None)
    return {
        "alerts": result.alerts_inserted,
        "verdicts": result.verdicts_inserted,
        "recommendations": len(recommendations),
    }


@pytest.fixture(scope="session")
def console_db_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("console-db") / "template.db"
    counts = fill_database(f"sqlite:///{path}")
    return path, counts


@pytest.fixture
def console_db(console_db_template: tuple[Path, dict[str, int]], tmp_path: Path) -> str:
    """A private copy of the filled SQLite database (tests change alerts and recommendations)."""
    src, _ = console_db_template
    dst = tmp_path / "console.db"
    shutil.copyfile(src, dst)
    return f"sqlite:///{dst}"


@pytest.fixture(scope="session")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("console-users") / "users.toml"
    for name, password in PASSWORDS.items():
        add_user(path, name, ROLES[name], password)
    return path


def make_app(db_url: str, users: Path, **options: object):  # type: ignore[no-untyped-def]
    return create_app(ConsoleConfig(db_url=db_url, users_file=users, **options))  # type: ignore[arg-type]


@contextmanager
def console_client(
    db_url: str, users: Path, base_url: str = "http://127.0.0.1", **options: object
) -> Iterator[TestClient]:
    """The console in process (``options`` are ConsoleConfig's) and a client of it at ``base_url``; the
    app's database sink is closed after."""
    app = make_app(db_url, users, **options)
    with TestClient(app, base_url=base_url) as client:
        yield client
    app.state.engine.dispose()


@pytest.fixture
def app_client(console_db: str, users_file: Path) -> Iterator[TestClient]:
    with console_client(console_db, users_file) as client:
        yield client


def basic(name: str) -> tuple[str, str]:
    return (name, PASSWORDS[name])


def post_login(client: TestClient, name: str, password: str, **fields: str) -> Response:
    """The login form, posted with the CSRF token of the login page (``fields``: e.g. ``next``); the
    answer, redirects not followed."""
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    data = {"username": name, "password": password, "csrf_token": token, **fields}
    return client.post("/login", data=data, follow_redirects=False)


def login(client: TestClient, name: str) -> str:
    """Log in through the login form (with its CSRF token); returns the session's CSRF token."""
    r = post_login(client, name, PASSWORDS[name], next="/alerts")
    assert r.status_code == 303, r.text
    me = client.get("/api/me").json()
    assert me["name"] == name
    return str(me["csrf_token"])


@dataclass
class ConsoleServer:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"clets-watch serve exited {proc.returncode}: {log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise AssertionError(f"clets-watch serve not healthy at {url} after {timeout}s: {log_path.read_text()}")


@pytest.fixture
def start_console(
    free_port: Callable[[], int], users_file: Path, tmp_path: Path
) -> Iterator[Callable[..., ConsoleServer]]:
    """Factory: run ``clets-watch serve`` as a real process over a database URL."""
    started: list[ConsoleServer] = []

    def start(db_url: str, *extra: str) -> ConsoleServer:
        port = free_port()
        log_path = tmp_path / f"serve-{port}.log"
        env = {**os.environ, "CLETS_WATCH_HOME": str(tmp_path / "home")}
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("clets-watch")),
                    "serve",
                    "--db",
                    db_url,
                    "--users",
                    str(users_file),
                    "--port",
                    str(port),
                    "--refresh-seconds",
                    "2",
                    *extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        server = ConsoleServer(f"http://127.0.0.1:{port}", proc, log_path)
        started.append(server)
        wait_healthy(server.url, proc, log_path)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.terminate()
            try:
                server.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait()
