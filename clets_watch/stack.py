"""The local service stack: Kafka (KRaft), PostgreSQL, Prometheus and Alertmanager as plain processes.

There is no container engine on the machines clets-watch is developed on, so ``clets-watch stack up``
starts each service as a process bound to 127.0.0.1, with its data, pid file and log under one home
folder (default ``.clets-watch/stack``). ``up`` is idempotent: a running service is reused, a stale pid
file (the process is gone, or the pid now belongs to another program) is replaced. Every readiness wait
has a timeout whose error names the log file to read.

The Kafka jars are resolved once with Maven into a cache outside the git tree
(``~/.cache/clets-watch``, or ``$CLETS_WATCH_CACHE``).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

SERVICES: tuple[str, ...] = ("kafka", "postgres", "prometheus", "alertmanager")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"

SETUP_HINT = "run `make setup` (or `scripts/setup-system.sh`)"


class StackError(RuntimeError):
    """A service of the local stack could not be started, reached or stopped."""


def default_cache_dir() -> Path:
    env = os.environ.get("CLETS_WATCH_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "clets-watch"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class StackConfig:
    home: Path = Path(".clets-watch") / "stack"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    postgres_port: int = 5433
    prometheus_port: int = 9090
    alertmanager_port: int = 9094
    kafka_version: str = "4.1.1"
    cache_dir: Path = field(default_factory=default_cache_dir)
    scrape_targets: tuple[str, ...] = ("127.0.0.1:9464",)
    #: where the generated local Alertmanager config sends on-call notifications
    webhook_url: str = "http://127.0.0.1:9095/alerts"
    project_root: Path = PROJECT_ROOT
    postgres_user: str = "clets"
    postgres_password: str = "clets"
    kafka_heap: str = "512m"
    ready_timeout: float = 90.0
    stop_timeout: float = 30.0
    scrape_interval: str = "1s"
    #: wipe a service's data each time it is started (never when a running one is reused): test sessions
    #: then see no topics, databases or metric series left from earlier sessions
    fresh: bool = False
    #: optional SASL_SSL listener (SCRAM-SHA-512/256 over TLS) beside the PLAINTEXT one, e.g. for security tests
    kafka_sasl_ssl_port: int | None = None
    #: the SASL_SSL listener's key store (private key and certificate chain): a PKCS12 file by default,
    #: or JKS, or PEM (Java 17 reads only unencrypted or PBES1-encrypted PEM keys); its password
    kafka_ssl_keystore: Path | None = None
    kafka_ssl_keystore_type: str = "PKCS12"
    kafka_ssl_keystore_password: str | None = None
    #: SCRAM users (name, password) created when the Kafka storage is formatted
    kafka_scram_users: tuple[tuple[str, str], ...] = ()
    #: serve PostgreSQL over TLS too (``ssl=on``) with this PEM certificate and its unencrypted PEM key
    postgres_ssl_cert: Path | None = None
    postgres_ssl_key: Path | None = None

    #: fields written to ``<home>/stack.json`` by ``up`` so that a later ``status``/``down`` finds the ports
    PERSISTED: ClassVar[tuple[str, ...]] = (
        "kafka_port",
        "kafka_controller_port",
        "postgres_port",
        "prometheus_port",
        "alertmanager_port",
        "kafka_version",
        "webhook_url",
        "postgres_user",
        "postgres_password",
    )

    @classmethod
    def from_home(cls, home: Path) -> StackConfig:
        """The config a stack under ``home`` was started with (defaults when it never was)."""
        saved = Path(home).expanduser() / "stack.json"
        try:
            data = json.loads(saved.read_text())
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as exc:
            raise StackError(f"cannot read the stack settings {saved}: {exc}") from exc
        known = {k: v for k, v in data.items() if k in cls.PERSISTED}
        return cls(home=Path(home), **known)


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    pid: int | None
    address: str
    data_dir: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Requirement:
    name: str
    found: str | None
    install: str

    @property
    def ok(self) -> bool:
        return self.found is not None

    def message(self) -> str:
        if self.ok:
            return f"{self.name}: {self.found}"
        return f"{self.name} not found: {SETUP_HINT} ({self.install})"


# --------------------------------------------------------------------------- binaries


def _postgres_bindir() -> Path | None:
    env = os.environ.get("CLETS_WATCH_PG_BINDIR")
    if env:
        return Path(env)
    candidates = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if (Path(p) / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    if candidates:
        return candidates[0]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _which(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def system_requirements(services: Iterable[str] | None = None) -> list[Requirement]:
    """What the chosen services need from the machine, found or not (with the command that installs it)."""
    wanted = set(services or SERVICES)
    reqs: list[Requirement] = []
    if "kafka" in wanted:
        reqs.append(Requirement("java", _which("java"), "apt-get install default-jre-headless"))
        reqs.append(Requirement("mvn", _which("mvn"), "apt-get install maven"))
    if "postgres" in wanted:
        bindir = _postgres_bindir()
        reqs.append(
            Requirement(
                "postgresql (initdb)",
                str(bindir / "initdb") if bindir else None,
                "apt-get install postgresql",
            )
        )
    if "prometheus" in wanted:
        reqs.append(Requirement("prometheus", _which("prometheus"), "apt-get install prometheus"))
    if "alertmanager" in wanted:
        reqs.append(
            Requirement(
                "alertmanager",
                _which("prometheus-alertmanager", "alertmanager"),
                "apt-get install prometheus-alertmanager",
            )
        )
    return reqs


def check_system_requirements(services: Iterable[str] | None = None) -> None:
    missing = [r for r in system_requirements(services) if not r.ok]
    if missing:
        raise StackError("; ".join(r.message() for r in missing))


# --------------------------------------------------------------------------- processes


def _proc_state(pid: int) -> str | None:
    """The one-letter state of a process from /proc, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name is in parentheses and may contain spaces
    return stat.rsplit(")", 1)[1].split()[0]


def _proc_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    state = _proc_state(pid)
    return state is not None and state not in ("Z", "X")


KAFKA_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>clets-watch</groupId>
  <artifactId>kafka-local</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{v}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>{v}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
"""

KAFKA_LOG4J2 = """Configuration:
  name: clets-watch-kafka
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka
        level: WARN
      - name: org.apache.kafka
        level: WARN
      - name: kafka.server.KafkaRaftServer
        level: INFO
      - name: kafka.server.BrokerServer
        level: INFO
"""


class Stack:
    """Start, stop and inspect the local services under ``config.home``."""

    def __init__(self, config: StackConfig | None = None) -> None:
        cfg = config or StackConfig()
        self.config = cfg
        self.home = cfg.home.expanduser().resolve()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock_depth = 0
        self._lock_fh: Any = None

    # ---------------------------------------------------------------- addresses

    @property
    def kafka_bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.config.kafka_port}"

    def postgres_url(self, dbname: str = "clets_watch") -> str:
        c = self.config
        return f"postgresql+psycopg://{c.postgres_user}:{c.postgres_password}@{LOOPBACK}:{c.postgres_port}/{dbname}"

    def postgres_dsn(self, dbname: str = "postgres") -> str:
        """A libpq connection string (for psycopg directly, without the SQLAlchemy dialect)."""
        c = self.config
        return f"postgresql://{c.postgres_user}:{c.postgres_password}@{LOOPBACK}:{c.postgres_port}/{dbname}"

    @property
    def kafka_sasl_ssl_bootstrap(self) -> str:
        """The SASL_SSL listener's address (a StackError when the stack has none)."""
        if self.config.kafka_sasl_ssl_port is None:
            raise StackError("this stack's Kafka has no SASL_SSL listener (StackConfig.kafka_sasl_ssl_port)")
        return f"{LOOPBACK}:{self.config.kafka_sasl_ssl_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://{LOOPBACK}:{self.config.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://{LOOPBACK}:{self.config.alertmanager_port}"

    def address(self, name: str) -> str:
        return {
            "kafka": self.kafka_bootstrap,
            "postgres": f"{LOOPBACK}:{self.config.postgres_port}",
            "prometheus": self.prometheus_url,
            "alertmanager": self.alertmanager_url,
        }[name]

    def port(self, name: str) -> int:
        return {
            "kafka": self.config.kafka_port,
            "postgres": self.config.postgres_port,
            "prometheus": self.config.prometheus_port,
            "alertmanager": self.config.alertmanager_port,
        }[name]

    # ---------------------------------------------------------------- paths

    def data_dir(self, name: str) -> Path:
        return self.home / name

    def log_file(self, name: str) -> Path:
        return self.home / "logs" / f"{name}.log"

    def _log_set_up(self, name: str, step: str, done: subprocess.CompletedProcess[str]) -> None:
        """Append the output of a one-off set-up ``step`` of service ``name`` (Kafka's storage format, initdb)
        to its log; a StackError with the exit code and the output's tail when the step failed."""
        output = done.stdout + done.stderr
        with open(self.log_file(name), "a") as out:
            out.write(output)
        if done.returncode != 0:
            raise StackError(
                f"{step} failed (exit {done.returncode}); read {self.log_file(name)}:\n{output[-2000:]}"
            )

    def pid_file(self, name: str) -> Path:
        return self.home / f"{name}.pid"

    @property
    def targets_file(self) -> Path:
        return self.home / "prometheus" / "targets.json"

    @property
    def kafka_libs(self) -> Path:
        return self.config.cache_dir / f"kafka-{self.config.kafka_version}" / "libs"

    # ---------------------------------------------------------------- public API

    def up(self, services: Iterable[str] | None = None) -> list[ServiceStatus]:
        """Start the services that are not running yet (all by default); return their status."""
        names = self._select(services)
        check_system_requirements(names)
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)
        with self.lock():
            self._save_config()
            for name in names:
                if self._running_pid(name) is None:
                    self._start(name)
        return [self._status(name) for name in names]

    def down(self, services: Iterable[str] | None = None) -> list[ServiceStatus]:
        """Stop the services (all by default), waiting for each to exit; return their status."""
        names = self._select(services)
        if not self.home.exists():
            return [self._status(name) for name in names]
        with self.lock():
            # stop in reverse dependency order: alerting before what it watches
            for name in reversed(names):
                self._stop(name)
        return [self._status(name) for name in names]

    def status(self, services: Iterable[str] | None = None) -> list[ServiceStatus]:
        return [self._status(name) for name in self._select(services)]

    def ensure_kafka_jars(self) -> Path:
        """Resolve the Kafka jars with Maven into the cache (once); return the folder holding them."""
        libs = self.kafka_libs
        marker = libs / ".complete"
        if marker.exists():
            return libs
        mvn = _which("mvn")
        if mvn is None:
            raise StackError(
                f"mvn not found, needed to fetch the Kafka jars: {SETUP_HINT} (apt-get install maven)"
            )
        work = libs.parent
        work.mkdir(parents=True, exist_ok=True)
        (work / "pom.xml").write_text(KAFKA_POM.format(v=self.config.kafka_version))
        tmp = work / "libs.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        proc = subprocess.run(
            [mvn, "-q", "-B", "dependency:copy-dependencies", f"-DoutputDirectory={tmp}"],
            cwd=work,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if proc.returncode != 0 or not any(tmp.glob("kafka_2.13-*.jar")):
            raise StackError(
                f"resolving the Kafka {self.config.kafka_version} jars with Maven failed "
                f"(exit {proc.returncode}) in {work}:\n{(proc.stdout + proc.stderr)[-3000:]}"
            )
        shutil.rmtree(libs, ignore_errors=True)
        tmp.rename(libs)
        marker.write_text(self.config.kafka_version + "\n")
        return libs

    def create_database(self, name: str) -> str:
        """Create a PostgreSQL database (if it does not exist yet); return its SQLAlchemy URL."""
        _check_identifier(name)
        import psycopg

        with psycopg.connect(self.postgres_dsn(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.postgres_url(name)

    def drop_database(self, name: str) -> None:
        _check_identifier(name)
        import psycopg

        with psycopg.connect(self.postgres_dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def set_scrape_targets(self, targets: Iterable[str]) -> None:
        """Point Prometheus' ``clets-watch`` job at these host:port targets (no restart needed)."""
        items = [t for t in targets]
        for target in items:
            host, _, port = target.rpartition(":")
            if not host or not port.isdigit():
                raise StackError(f"scrape target {target!r} is not host:port")
        self.targets_file.parent.mkdir(parents=True, exist_ok=True)
        payload = [{"targets": items, "labels": {"service": "clets-watch"}}] if items else []
        tmp = self.targets_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(payload, indent=2) + "\n")
        tmp.replace(self.targets_file)  # atomic: Prometheus never reads half a file

    def reload_prometheus(self) -> None:
        """Ask a running Prometheus to re-read its config and rule files."""
        self._write_prometheus_config()
        _http(f"{self.prometheus_url}/-/reload", method="POST")

    # ---------------------------------------------------------------- internals

    def _save_config(self) -> None:
        data = {k: getattr(self.config, k) for k in StackConfig.PERSISTED}
        (self.home / "stack.json").write_text(json.dumps(data, indent=2) + "\n")

    def _select(self, services: Iterable[str] | None) -> list[str]:
        if services is None:
            return list(SERVICES)
        wanted = [s.strip() for s in services if s.strip()]
        unknown = [s for s in wanted if s not in SERVICES]
        if unknown:
            raise StackError(f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(SERVICES)}")
        return [s for s in SERVICES if s in wanted]  # canonical start order

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Serialise up/down between processes (e.g. two test sessions) sharing one home.

        Re-entrant within one ``Stack`` object, so a caller may hold it around ``up``/``down``.
        """
        if self._lock_depth == 0:
            self.home.mkdir(parents=True, exist_ok=True)
            fh = open(self.home / ".lock", "w")  # noqa: SIM115 - held open across yield, closed below
            fcntl.flock(fh, fcntl.LOCK_EX)
            self._lock_fh = fh
        self._lock_depth += 1
        try:
            yield
        finally:
            self._lock_depth -= 1
            if self._lock_depth == 0:
                fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
                self._lock_fh.close()
                self._lock_fh = None

    _MARKERS: ClassVar[dict[str, str]] = {
        "kafka": "kafka.Kafka",
        "postgres": "postgres",
        "prometheus": "prometheus",
        "alertmanager": "alertmanager",
    }

    def _running_pid(self, name: str) -> int | None:
        """The pid of the service when it runs; a stale pid file is removed."""
        pid_file = self.pid_file(name)
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        proc = self._procs.get(name)
        if proc is not None and proc.pid == pid and proc.poll() is not None:
            alive = False
        else:
            alive = _alive(pid) and self._MARKERS[name] in _proc_cmdline(pid)
        if not alive:
            pid_file.unlink(missing_ok=True)
            return None
        return pid

    def _status(self, name: str) -> ServiceStatus:
        pid = self._running_pid(name) if self.home.exists() else None
        if pid is None:
            detail = "stopped"
            if port_open(self.port(name)):
                detail = f"stopped; but port {self.port(name)} is in use by another process"
        else:
            detail = "ready" if port_open(self.port(name)) else f"starting (see {self.log_file(name)})"
        return ServiceStatus(
            name=name,
            running=pid is not None,
            pid=pid,
            address=self.address(name),
            data_dir=str(self.data_dir(name)),
            detail=detail,
        )

    def _start(self, name: str) -> None:
        kafka_ports = [self.config.kafka_port, self.config.kafka_controller_port]
        if self.config.kafka_sasl_ssl_port is not None:
            kafka_ports.append(self.config.kafka_sasl_ssl_port)
        ports = {"kafka": kafka_ports}.get(name, [self.port(name)])
        for port in ports:
            if port_open(port):
                raise StackError(
                    f"cannot start {name}: port {LOOPBACK}:{port} is already in use by another process "
                    f"(not the one in {self.pid_file(name)}); stop it or choose another port"
                )
        if self.config.fresh:
            shutil.rmtree(self.data_dir(name), ignore_errors=True)
        starter = {
            "kafka": self._start_kafka,
            "postgres": self._start_postgres,
            "prometheus": self._start_prometheus,
            "alertmanager": self._start_alertmanager,
        }[name]
        starter()

    def _spawn(
        self,
        name: str,
        argv: list[str],
        *,
        user: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        log = self.log_file(name)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            out.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(argv)}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                user=user,
                env=env,
                cwd=cwd,
            )
        self._procs[name] = proc
        self.pid_file(name).write_text(f"{proc.pid}\n")
        return proc

    def _wait_ready(self, name: str, proc: subprocess.Popen[bytes], probe: Any) -> None:
        deadline = time.monotonic() + self.config.ready_timeout
        last_error = ""
        while time.monotonic() < deadline:
            code = proc.poll()
            if code is not None:
                self.pid_file(name).unlink(missing_ok=True)
                raise StackError(
                    f"{name} exited with code {code} while starting; read {self.log_file(name)}:\n"
                    f"{_tail(self.log_file(name))}"
                )
            try:
                if probe():
                    return
            except Exception as exc:  # noqa: BLE001 - any probe failure means "not ready yet"
                last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.25)
        self._stop(name)  # don't leave a half-started service holding the ports
        raise StackError(
            f"{name} did not become ready on {self.address(name)} within {self.config.ready_timeout:.0f}s"
            f"{' (last probe error: ' + last_error + ')' if last_error else ''}; read {self.log_file(name)}"
        )

    def _stop(self, name: str) -> None:
        pid = self._running_pid(name)
        if pid is None:
            return
        # PostgreSQL: SIGINT is the "fast" shutdown (SIGTERM waits for clients to leave)
        sig = signal.SIGINT if name == "postgres" else signal.SIGTERM
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + self.config.stop_timeout
        while time.monotonic() < deadline and self._is_up(name, pid):
            time.sleep(0.1)
        if self._is_up(name, pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            time.sleep(0.2)
        proc = self._procs.pop(name, None)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self.pid_file(name).unlink(missing_ok=True)

    def _is_up(self, name: str, pid: int) -> bool:
        proc = self._procs.get(name)
        if proc is not None and proc.pid == pid:
            return proc.poll() is None
        return _alive(pid)

    # ---------------------------------------------------------------- kafka

    def _start_kafka(self) -> None:
        libs = self.ensure_kafka_jars()
        java = _which("java")
        if java is None:
            raise StackError(f"java not found: {SETUP_HINT} (apt-get install default-jre-headless)")
        c = self.config
        data = self.data_dir("kafka")
        logs_dir = data / "data"
        data.mkdir(parents=True, exist_ok=True)
        props = data / "server.properties"
        sasl_ssl = self._kafka_sasl_ssl_properties()
        listeners = f"PLAINTEXT://{LOOPBACK}:{c.kafka_port},CONTROLLER://{LOOPBACK}:{c.kafka_controller_port}"
        advertised = f"PLAINTEXT://{LOOPBACK}:{c.kafka_port}"
        protocol_map = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        if sasl_ssl:
            listeners += f",SASL_SSL://{LOOPBACK}:{c.kafka_sasl_ssl_port}"
            advertised += f",SASL_SSL://{LOOPBACK}:{c.kafka_sasl_ssl_port}"
            protocol_map += ",SASL_SSL:SASL_SSL"
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@{LOOPBACK}:{c.kafka_controller_port}",
                    f"listeners={listeners}",
                    f"advertised.listeners={advertised}",
                    "controller.listener.names=CONTROLLER",
                    f"listener.security.protocol.map={protocol_map}",
                    *sasl_ssl,
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={logs_dir}",
                    "num.partitions=1",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    "delete.topic.enable=true",
                    "",
                ]
            )
        )
        log4j = data / "log4j2.yaml"
        log4j.write_text(KAFKA_LOG4J2)
        classpath = f"{libs}/*"
        if not (logs_dir / "meta.properties").exists():
            cluster_id = _kafka_cluster_id()
            fmt = subprocess.run(
                [
                    java,
                    f"-Dlog4j2.configurationFile={log4j}",
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(props),
                    "--ignore-formatted",
                    *self._kafka_scram_args(),
                ],
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                check=False,
            )
            self._log_set_up("kafka", f"formatting the Kafka storage in {logs_dir}", fmt)
        proc = self._spawn(
            "kafka",
            [
                java,
                f"-Xmx{c.kafka_heap}",
                f"-Xms{c.kafka_heap}",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={log4j}",
                f"-Dkafka.logs.dir={data}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(props),
            ],
        )
        self._wait_ready("kafka", proc, self._kafka_ready)

    def _kafka_sasl_ssl_properties(self) -> list[str]:
        """server.properties lines of the optional SASL_SSL listener (SCRAM over TLS); none without one."""
        c = self.config
        if c.kafka_sasl_ssl_port is None:
            return []
        if c.kafka_ssl_keystore is None or not Path(c.kafka_ssl_keystore).is_file():
            raise StackError(
                f"the SASL_SSL listener on port {c.kafka_sasl_ssl_port} needs a key store "
                f"(StackConfig.kafka_ssl_keystore), got {c.kafka_ssl_keystore}"
            )
        if not c.kafka_scram_users:
            raise StackError(
                "the SASL_SSL listener needs at least one SCRAM user (StackConfig.kafka_scram_users)"
            )
        jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        lines = [
            "sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256",
            "listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256",
            f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={jaas}",
            f"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config={jaas}",
            f"listener.name.sasl_ssl.ssl.keystore.type={c.kafka_ssl_keystore_type}",
            f"listener.name.sasl_ssl.ssl.keystore.location={Path(c.kafka_ssl_keystore).resolve()}",
        ]
        if c.kafka_ssl_keystore_password:
            if c.kafka_ssl_keystore_type.upper() != "PEM":  # a PEM key store has no store password
                lines.append(f"listener.name.sasl_ssl.ssl.keystore.password={c.kafka_ssl_keystore_password}")
            lines.append(f"listener.name.sasl_ssl.ssl.key.password={c.kafka_ssl_keystore_password}")
        return lines

    def _kafka_scram_args(self) -> list[str]:
        """``kafka-storage format`` arguments creating the SCRAM users (SHA-512 and SHA-256 credentials)."""
        args: list[str] = []
        for name, password in self.config.kafka_scram_users:
            for text in (name, password):
                if not text or any(ch in text for ch in ',[]="\n'):
                    raise StackError(
                        f'SCRAM user {name!r}: names and passwords must be non-empty without , [ ] = "'
                    )
            for mechanism in ("SCRAM-SHA-512", "SCRAM-SHA-256"):
                args += ["--add-scram", f"{mechanism}=[name={name},password={password}]"]
        return args

    def _kafka_ready(self) -> bool:
        if not port_open(self.config.kafka_port):
            return False
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(
            bootstrap_servers=self.kafka_bootstrap,
            client_id="clets-watch-stack",
            request_timeout_ms=5000,
        )
        try:
            admin.list_topics()
            return True
        finally:
            admin.close()

    # ---------------------------------------------------------------- postgres

    def _postgres_user(self) -> str | None:
        """The system user PostgreSQL runs as: ourselves, or ``postgres`` when we are root."""
        if os.geteuid() != 0:
            return None
        for candidate in ("postgres", "nobody"):
            try:
                pwd.getpwnam(candidate)
                return candidate
            except KeyError:
                continue
        raise StackError(
            "running as root, and neither a 'postgres' nor a 'nobody' system user exists to run PostgreSQL"
        )

    def _start_postgres(self) -> None:
        bindir = _postgres_bindir()
        if bindir is None:
            raise StackError(f"postgresql not found: {SETUP_HINT} (apt-get install postgresql)")
        c = self.config
        data = self.data_dir("postgres")
        pgdata = data / "pgdata"
        user = self._postgres_user()
        data.mkdir(parents=True, exist_ok=True)
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(data, entry.pw_uid, entry.pw_gid)
        if not (pgdata / "PG_VERSION").exists():
            shutil.rmtree(pgdata, ignore_errors=True)
            pwfile = data / "pwfile"
            pwfile.write_text(c.postgres_password + "\n")
            if user is not None:
                entry = pwd.getpwnam(user)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            os.chmod(pwfile, 0o600)
            init = subprocess.run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(pgdata),
                    "-U",
                    c.postgres_user,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                capture_output=True,
                text=True,
                user=user,
                stdin=subprocess.DEVNULL,
                cwd=data,
                check=False,
            )
            pwfile.unlink(missing_ok=True)
            self._log_set_up("postgres", f"initdb for {pgdata}", init)
        proc = self._spawn(
            "postgres",
            [
                str(bindir / "postgres"),
                "-D",
                str(pgdata),
                "-p",
                str(c.postgres_port),
                "-h",
                LOOPBACK,
                "-k",
                str(data),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
                *self._postgres_ssl_args(data, user),
            ],
            user=user,
            cwd=data,
        )
        self._wait_ready("postgres", proc, self._postgres_ready)

    def _postgres_ssl_args(self, data: Path, user: str | None) -> list[str]:
        """``ssl=on`` with copies of the configured certificate and key that the server user may read."""
        c = self.config
        if c.postgres_ssl_cert is None and c.postgres_ssl_key is None:
            return []
        if c.postgres_ssl_cert is None or c.postgres_ssl_key is None:
            raise StackError(
                "PostgreSQL over TLS needs both StackConfig.postgres_ssl_cert and postgres_ssl_key"
            )
        copies = {"server.crt": Path(c.postgres_ssl_cert), "server.key": Path(c.postgres_ssl_key)}
        for target, source in copies.items():
            try:
                shutil.copyfile(source, data / target)
            except OSError as exc:
                raise StackError(f"cannot copy the PostgreSQL TLS file {source}: {exc}") from exc
            os.chmod(data / target, 0o600)  # PostgreSQL refuses a key others can read
            if user is not None:
                entry = pwd.getpwnam(user)
                os.chown(data / target, entry.pw_uid, entry.pw_gid)
        return [
            "-c",
            "ssl=on",
            "-c",
            f"ssl_cert_file={data / 'server.crt'}",
            "-c",
            f"ssl_key_file={data / 'server.key'}",
        ]

    def _postgres_ready(self) -> bool:
        import psycopg

        with psycopg.connect(self.postgres_dsn(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True

    # ---------------------------------------------------------------- prometheus

    def _rule_files(self) -> list[str]:
        rules_dir = self.config.project_root / "deploy" / "prometheus" / "rules"
        return [str(rules_dir / "*.yml")]

    def prometheus_config(self) -> dict[str, Any]:
        """The Prometheus configuration the local stack runs with."""
        c = self.config
        return {
            "global": {"scrape_interval": c.scrape_interval, "evaluation_interval": c.scrape_interval},
            "rule_files": self._rule_files(),
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": [f"{LOOPBACK}:{c.alertmanager_port}"]}]}]
            },
            "scrape_configs": [
                {
                    "job_name": "clets-watch",
                    "file_sd_configs": [{"files": [str(self.targets_file)], "refresh_interval": "1s"}],
                },
                {
                    "job_name": "prometheus",
                    "static_configs": [{"targets": [f"{LOOPBACK}:{c.prometheus_port}"]}],
                },
            ],
        }

    def _write_prometheus_config(self) -> Path:
        data = self.data_dir("prometheus")
        data.mkdir(parents=True, exist_ok=True)
        path = data / "prometheus.yml"
        path.write_text(yaml.safe_dump(self.prometheus_config(), sort_keys=False))
        return path

    def _start_prometheus(self) -> None:
        binary = _which("prometheus")
        if binary is None:
            raise StackError(f"prometheus not found: {SETUP_HINT} (apt-get install prometheus)")
        if not self.targets_file.exists():
            self.set_scrape_targets(self.config.scrape_targets)
        config = self._write_prometheus_config()
        data = self.data_dir("prometheus")
        proc = self._spawn(
            "prometheus",
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={data / 'tsdb'}",
                f"--web.listen-address={LOOPBACK}:{self.config.prometheus_port}",
                "--web.enable-lifecycle",
                "--storage.tsdb.retention.time=2d",
            ],
            cwd=data,
        )
        self._wait_ready("prometheus", proc, lambda: _http_ok(f"{self.prometheus_url}/-/ready"))

    # ---------------------------------------------------------------- alertmanager

    def alertmanager_config(self) -> dict[str, Any]:
        """deploy/alertmanager.yml with every webhook pointed at ``config.webhook_url``."""
        source = self.config.project_root / "deploy" / "alertmanager.yml"
        try:
            doc = yaml.safe_load(source.read_text())
        except OSError as exc:
            raise StackError(f"cannot read the Alertmanager config {source}: {exc}") from exc
        for receiver in doc.get("receivers", []):
            for hook in receiver.get("webhook_configs", []) or []:
                hook["url"] = self.config.webhook_url
        return dict(doc)

    def _start_alertmanager(self) -> None:
        binary = _which("prometheus-alertmanager", "alertmanager")
        if binary is None:
            raise StackError(
                f"alertmanager not found: {SETUP_HINT} (apt-get install prometheus-alertmanager)"
            )
        data = self.data_dir("alertmanager")
        data.mkdir(parents=True, exist_ok=True)
        config = data / "alertmanager.yml"
        config.write_text(yaml.safe_dump(self.alertmanager_config(), sort_keys=False))
        proc = self._spawn(
            "alertmanager",
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={data / 'data'}",
                f"--web.listen-address={LOOPBACK}:{self.config.alertmanager_port}",
                "--cluster.listen-address=",
                f"--web.external-url={self.alertmanager_url}",
            ],
            cwd=data,
        )
        self._wait_ready("alertmanager", proc, lambda: _http_ok(f"{self.alertmanager_url}/-/ready"))


# --------------------------------------------------------------------------- helpers


def _check_identifier(name: str) -> None:
    if not name or len(name) > 63 or not all(ch.isalnum() or ch == "_" for ch in name) or name[0].isdigit():
        raise StackError(
            f"database name {name!r} must be 1-63 letters, digits or underscores, not starting with a digit"
        )


def _kafka_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (as ``random-uuid`` prints)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _http(url: str, method: str = "GET", timeout: float = 5.0) -> bytes:
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return bytes(resp.read())


def _http_ok(url: str) -> bool:
    try:
        _http(url, timeout=2.0)
        return True
    except urllib.error.HTTPError:
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
