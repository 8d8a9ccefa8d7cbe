"""Session-wide fixtures: the real services (Kafka, PostgreSQL, Prometheus, Alertmanager) as local processes.

Each service starts lazily, the first time a test asks for it, once per test session, under
``.clets-watch/test-stack`` on test ports that do not collide with the demo stack (``clets-watch stack up``),
with empty data (no topics, databases or metric series from earlier sessions).
Several pytest sessions may share it (engineers share one working tree): each session registers itself under
``<home>/sessions/``, and the last session to finish stops the services.

A machine without the system packages fails the tests (never skips them) and says how to install them.

Fixtures:
    stack            the session's ``SessionStack`` (a ``clets_watch.stack.Stack``); ``stack.require("kafka")``
    kafka_bootstrap  "127.0.0.1:39092"
    kafka_topic      factory: ``kafka_topic(prefix="t", partitions=1) -> str``, a fresh uniquely named topic
    postgres_url     SQLAlchemy URL of a fresh, empty database for this test (dropped afterwards)
    postgres_database factory: ``postgres_database() -> str`` URL of another fresh database (dropped afterwards)
    prometheus       ``PrometheusHandle``: .url, .set_targets([...]), .query(promql), .wait_for(promql, timeout)
    alertmanager     ``AlertmanagerHandle``: .url, .webhook_url, .alerts(), .status()
    free_port        callable returning a free TCP port on 127.0.0.1
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clets_watch.stack import PROJECT_ROOT, Stack, StackConfig, StackError, _alive
from clets_watch.stack import free_port as _free_port

TEST_STACK_HOME = PROJECT_ROOT / ".clets-watch" / "test-stack"
#: CLETS_WATCH_TEST_PORT_OFFSET shifts every test port, so that two checkouts (git worktrees) can run their
#: integration tests side by side, each with its own stack under its own ``.clets-watch/test-stack``
TEST_PORT_OFFSET = int(os.environ.get("CLETS_WATCH_TEST_PORT_OFFSET", "0"))
TEST_KAFKA_PORT = 39092 + TEST_PORT_OFFSET
TEST_KAFKA_CONTROLLER_PORT = 39093 + TEST_PORT_OFFSET
TEST_POSTGRES_PORT = 35433 + TEST_PORT_OFFSET
TEST_PROMETHEUS_PORT = 39090 + TEST_PORT_OFFSET
TEST_ALERTMANAGER_PORT = 39094 + TEST_PORT_OFFSET
#: the test Alertmanager sends notifications here; a test may run a receiver on this port
TEST_WEBHOOK_PORT = 39095 + TEST_PORT_OFFSET

SETUP_MESSAGE = "the test stack needs system packages: run `make setup` (or `scripts/setup-system.sh`)"


def make_test_stack_config() -> StackConfig:
    return StackConfig(
        home=TEST_STACK_HOME,
        kafka_port=TEST_KAFKA_PORT,
        kafka_controller_port=TEST_KAFKA_CONTROLLER_PORT,
        postgres_port=TEST_POSTGRES_PORT,
        prometheus_port=TEST_PROMETHEUS_PORT,
        alertmanager_port=TEST_ALERTMANAGER_PORT,
        scrape_targets=(),
        webhook_url=f"http://127.0.0.1:{TEST_WEBHOOK_PORT}/alerts",
        fresh=True,
    )


class SessionStack(Stack):
    """The test session's stack: services start on first use and are shared with other live sessions."""

    def __init__(self, config: StackConfig) -> None:
        super().__init__(config)
        self.started: set[str] = set()
        self.session_file = self.home / "sessions" / str(os.getpid())

    def register_session(self) -> None:
        with self.lock():
            self.session_file.parent.mkdir(parents=True, exist_ok=True)
            self.session_file.write_text(f"{os.getpid()}\n")

    def require(self, *names: str) -> None:
        """Start these services unless this session already has them; fail the test when one cannot start."""
        missing = [n for n in names if n not in self.started]
        if not missing:
            return
        try:
            self.up(missing)
        except StackError as exc:
            pytest.fail(f"{exc}\n({SETUP_MESSAGE})", pytrace=False)
        self.started.update(missing)

    def other_live_sessions(self) -> list[int]:
        others = []
        for path in (self.home / "sessions").glob("*"):
            if path == self.session_file or not path.name.isdigit():
                continue
            if _alive(int(path.name)):
                others.append(int(path.name))
            else:
                path.unlink(missing_ok=True)
        return others

    def finish_session(self) -> None:
        """Stop the services unless another pytest session still uses them."""
        with self.lock():
            self.session_file.unlink(missing_ok=True)
            if not self.other_live_sessions():
                self.down()


@pytest.fixture(scope="session")
def stack() -> Iterator[SessionStack]:
    session_stack = SessionStack(make_test_stack_config())
    session_stack.register_session()
    try:
        yield session_stack
    finally:
        session_stack.finish_session()


@pytest.fixture
def free_port() -> Callable[[], int]:
    return _free_port


# ----------------------------------------------------------------------------- Kafka


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: SessionStack) -> str:
    stack.require("kafka")
    return stack.kafka_bootstrap


def _unique(prefix: str, node_name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", node_name).strip("-")[:40]
    return f"{prefix}-{slug}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def kafka_topic(kafka_bootstrap: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., str]]:
    """Factory of fresh, uniquely named topics; they are deleted after the test."""
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="clets-watch-tests")
    created: list[str] = []

    def make(prefix: str = "t", partitions: int = 1) -> str:
        name = _unique(prefix, request.node.name)
        admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1)],
            timeout_ms=15000,
            wait_for_metadata=True,
        )
        created.append(name)
        return name

    try:
        yield make
    finally:
        if created:
            try:
                admin.delete_topics(created, timeout_ms=15000)
            finally:
                admin.close()
        else:
            admin.close()


# ----------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres_server(stack: SessionStack) -> SessionStack:
    stack.require("postgres")
    return stack


@pytest.fixture
def postgres_database(postgres_server: SessionStack) -> Iterator[Callable[[], str]]:
    """Factory: ``postgres_database()`` creates a fresh empty database and returns its SQLAlchemy URL."""
    names: list[str] = []

    def make() -> str:
        name = f"test_{uuid.uuid4().hex[:16]}"
        names.append(name)
        return postgres_server.create_database(name)

    try:
        yield make
    finally:
        for name in names:
            postgres_server.drop_database(name)


@pytest.fixture
def postgres_url(postgres_database: Callable[[], str]) -> str:
    """SQLAlchemy URL (postgresql+psycopg://...) of a fresh, empty database, dropped after the test."""
    return postgres_database()


# ----------------------------------------------------------------------------- Prometheus / Alertmanager


def _get_json(url: str, timeout: float = 10.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


@dataclass
class PrometheusHandle:
    stack: Stack

    @property
    def url(self) -> str:
        return self.stack.prometheus_url

    def set_targets(self, targets: list[str]) -> None:
        """Scrape these host:port targets as job ``clets-watch`` (picked up within ~1 s, no restart)."""
        self.stack.set_scrape_targets(targets)

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant query; the ``result`` list of /api/v1/query (each item has ``metric`` and ``value``)."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        body = _get_json(url)
        if body.get("status") != "success":
            raise AssertionError(f"Prometheus query {promql!r} failed: {body}")
        result = body["data"]["result"]
        return list(result) if isinstance(result, list) else [result]

    def wait_for(self, promql: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll until the query returns a non-empty result; fail the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if result:
                return result
            if time.monotonic() > deadline:
                pytest.fail(f"Prometheus query {promql!r} was still empty after {timeout:.0f}s ({self.url})")
            time.sleep(0.5)

    def reload(self) -> None:
        """Re-read config and rule files (e.g. after adding deploy/prometheus/rules/*.yml)."""
        self.stack.reload_prometheus()


@pytest.fixture(scope="session")
def prometheus_server(stack: SessionStack) -> PrometheusHandle:
    stack.require("prometheus")
    return PrometheusHandle(stack)


@pytest.fixture
def prometheus(prometheus_server: PrometheusHandle) -> Iterator[PrometheusHandle]:
    """The session's Prometheus; the targets a test sets are cleared after it."""
    try:
        yield prometheus_server
    finally:
        prometheus_server.set_targets([])


@dataclass
class AlertmanagerHandle:
    stack: Stack

    @property
    def url(self) -> str:
        return self.stack.alertmanager_url

    @property
    def webhook_url(self) -> str:
        """Where this Alertmanager sends notifications (a test may listen on it)."""
        return self.stack.config.webhook_url

    def status(self) -> dict[str, Any]:
        return dict(_get_json(f"{self.url}/api/v2/status"))

    def alerts(self) -> list[dict[str, Any]]:
        return list(_get_json(f"{self.url}/api/v2/alerts"))


@pytest.fixture(scope="session")
def alertmanager(stack: SessionStack) -> AlertmanagerHandle:
    stack.require("alertmanager")
    return AlertmanagerHandle(stack)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT
