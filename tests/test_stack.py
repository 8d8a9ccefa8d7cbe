"""The local stack really starts: Kafka, PostgreSQL, Prometheus and Alertmanager answer on 127.0.0.1."""

from __future__ import annotations

import argparse
import json
import subprocess
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from clets_watch.commands import stack as stack_command
from clets_watch.stack import (
    SERVICES,
    Stack,
    StackConfig,
    StackError,
    free_port,
    system_requirements,
)

pytestmark = pytest.mark.integration


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clets-watch")
    stack_command.register(parser.add_subparsers(dest="command"))
    return parser


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    args = _parser().parse_args(["stack", *argv])
    code = args.func(args)
    return code, capsys.readouterr().out


# ----------------------------------------------------------------------------- the session stack


def test_kafka_produce_and_consume(kafka_bootstrap: str, kafka_topic: Any) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    topic = kafka_topic("roundtrip")
    payload = json.dumps({"event_id": str(uuid.uuid4()), "ori": "CA0190000"}).encode()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    producer.send(topic, key=b"CA0190000", value=payload).get(timeout=30)
    producer.close()

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        consumer_timeout_ms=20000,
    )
    try:
        received = [(m.key, m.value) for m in consumer]
    finally:
        consumer.close()
    assert received == [(b"CA0190000", payload)]


def test_kafka_topic_factory_makes_distinct_topics(kafka_bootstrap: str, kafka_topic: Any) -> None:
    from kafka.admin import KafkaAdminClient

    first, second = kafka_topic("a"), kafka_topic("a", partitions=3)
    assert first != second
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics([first, second])}
    finally:
        admin.close()
    assert described == {first: 1, second: 3}


def test_postgres_select_one(postgres_url: str) -> None:
    import psycopg

    assert postgres_url.startswith("postgresql+psycopg://")
    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        # the database is fresh and empty: no tables of ours in it
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)


def test_postgres_databases_are_distinct_and_dropped(stack: Any, postgres_database: Any) -> None:
    import psycopg

    first, second = postgres_database(), postgres_database()
    assert first != second
    name = first.rsplit("/", 1)[1]
    stack.drop_database(name)
    with psycopg.connect(stack.postgres_dsn()) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None


def test_prometheus_ready_and_scrapes_itself(prometheus: Any) -> None:
    status, _ = _get(f"{prometheus.url}/-/ready")
    assert status == 200
    result = prometheus.wait_for('up{job="prometheus"} == 1', timeout=30)
    assert result[0]["value"][1] == "1"


def test_prometheus_picks_up_new_targets_without_restart(prometheus: Any, alertmanager: Any) -> None:
    # Alertmanager exposes /metrics: use it as a stand-in for a worker
    target = alertmanager.url.removeprefix("http://")
    prometheus.set_targets([target])
    result = prometheus.wait_for(f'up{{job="clets-watch", instance="{target}"}} == 1', timeout=30)
    assert result[0]["metric"]["service"] == "clets-watch"


def test_alertmanager_ready_and_status(alertmanager: Any) -> None:
    status, _ = _get(f"{alertmanager.url}/-/ready")
    assert status == 200
    body = alertmanager.status()
    assert body["cluster"]["status"] == "disabled"
    # the running config is deploy/alertmanager.yml with the webhook pointed at the local receiver
    assert alertmanager.webhook_url in body["config"]["original"]
    assert "oncall-webhook:8080" not in body["config"]["original"]


def test_up_twice_is_idempotent(stack: Any, alertmanager: Any) -> None:
    before = {s.name: s.pid for s in stack.status(["alertmanager"])}
    again = stack.up(["alertmanager"])
    assert [(s.name, s.running, s.pid) for s in again] == [("alertmanager", True, before["alertmanager"])]


def test_status_json_cli(capsys: pytest.CaptureFixture[str], stack: Any, alertmanager: Any) -> None:
    code, out = _cli(capsys, "status", "--json", "--home", str(stack.home))
    assert code == 0
    doc = json.loads(out)
    by_name = {s["name"]: s for s in doc["services"]}
    assert set(by_name) == set(SERVICES)
    assert by_name["alertmanager"]["running"] is True
    assert by_name["alertmanager"]["address"] == alertmanager.url


def test_status_table_cli(capsys: pytest.CaptureFixture[str], stack: Any, alertmanager: Any) -> None:
    code, out = _cli(capsys, "status", "--services", "alertmanager", "--home", str(stack.home))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["SERVICE", "STATE", "PID", "ADDRESS"]
    assert lines[1].split()[:2] == ["alertmanager", "running"]


# ----------------------------------------------------------------------------- a private stack


def _private_stack(tmp_path: Path) -> Stack:
    return Stack(
        StackConfig(
            home=tmp_path / "stack",
            prometheus_port=free_port(),
            alertmanager_port=free_port(),
            postgres_port=free_port(),
            kafka_port=free_port(),
            kafka_controller_port=free_port(),
            scrape_targets=(),
            ready_timeout=30,
        )
    )


def test_stale_pid_files_are_replaced(tmp_path: Path) -> None:
    private = _private_stack(tmp_path)
    private.home.mkdir(parents=True)
    # a pid that no longer exists ...
    dead = subprocess.Popen(["true"])
    dead.wait()
    private.pid_file("alertmanager").write_text(f"{dead.pid}\n")
    # ... and a pid that lives but is some other program
    other = subprocess.Popen(["sleep", "60"])
    private.pid_file("prometheus").write_text(f"{other.pid}\n")
    try:
        assert [s.running for s in private.status(["prometheus", "alertmanager"])] == [False, False]
        statuses = private.up(["prometheus", "alertmanager"])
        assert all(s.running for s in statuses)
        assert {s.pid for s in statuses}.isdisjoint({dead.pid, other.pid})
        assert other.poll() is None  # the unrelated process was left alone
    finally:
        private.down()
        other.kill()
        other.wait()
    assert not private.pid_file("alertmanager").exists()
    assert [s.running for s in private.status(["prometheus", "alertmanager"])] == [False, False]


def test_port_taken_by_a_stranger_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    private = _private_stack(tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", private.config.alertmanager_port))
        sock.listen()
        with pytest.raises(StackError, match=r"port 127\.0\.0\.1:\d+ is already in use"):
            private.up(["alertmanager"])


def test_down_then_up_restarts(tmp_path: Path) -> None:
    private = _private_stack(tmp_path)
    try:
        first = private.up(["alertmanager"])[0]
        assert first.running
        stopped = private.down(["alertmanager"])[0]
        assert not stopped.running and stopped.pid is None
        second = private.up(["alertmanager"])[0]
        assert second.running and second.pid != first.pid
        # data and config survive a restart
        assert (private.data_dir("alertmanager") / "alertmanager.yml").exists()
    finally:
        private.down()


@pytest.mark.parametrize("returncode", [0, 1])
def test_a_set_up_step_is_logged_and_its_failure_names_the_step(tmp_path: Path, returncode: int) -> None:
    private = _private_stack(tmp_path)
    private.log_file("postgres").parent.mkdir(parents=True)
    done = subprocess.CompletedProcess(["initdb"], returncode, stdout="out\n", stderr="x" * 3000)
    if returncode:
        with pytest.raises(StackError) as failed:
            private._log_set_up("postgres", "initdb for /data", done)
        first, tail = str(failed.value).split("\n", 1)
        assert first == f"initdb for /data failed (exit 1); read {private.log_file('postgres')}:"
        assert tail == "x" * 2000
    else:
        private._log_set_up("postgres", "initdb for /data", done)
    assert private.log_file("postgres").read_text() == "out\n" + "x" * 3000


def test_unknown_service_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="unknown service.*zookeeper"):
        _private_stack(tmp_path).up(["zookeeper"])


def test_cli_rejects_unknown_service(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from clets_watch.cli import UserError

    with pytest.raises(UserError, match="zookeeper"):
        _cli(capsys, "status", "--services", "kafka,zookeeper", "--home", str(tmp_path))


def test_system_requirements_found_on_this_machine() -> None:
    reqs = system_requirements()
    assert {r.name for r in reqs} == {"java", "mvn", "postgresql (initdb)", "prometheus", "alertmanager"}
    missing = [r.message() for r in reqs if not r.ok]
    assert missing == [], "\n".join(missing)


def test_system_requirement_message_names_the_fix() -> None:
    from clets_watch.stack import Requirement

    msg = Requirement("prometheus", None, "apt-get install prometheus").message()
    assert (
        msg
        == "prometheus not found: run `make setup` (or `scripts/setup-system.sh`) (apt-get install prometheus)"
    )


def test_kafka_jars_are_cached_outside_the_repo(stack: Any, kafka_bootstrap: str) -> None:
    libs = stack.ensure_kafka_jars()
    assert (libs / ".complete").exists()
    assert any(libs.glob("kafka_2.13-4.1.1.jar"))
    assert not libs.resolve().is_relative_to(stack.config.project_root)


def test_prometheus_config_points_at_alertmanager_and_targets_file(stack: Any) -> None:
    cfg = stack.prometheus_config()
    am = cfg["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert am == [f"127.0.0.1:{stack.config.alertmanager_port}"]
    job = next(j for j in cfg["scrape_configs"] if j["job_name"] == "clets-watch")
    assert job["file_sd_configs"][0]["files"] == [str(stack.targets_file)]
    assert cfg["rule_files"] == [str(stack.config.project_root / "deploy" / "prometheus" / "rules" / "*.yml")]


def test_set_scrape_targets_validates(tmp_path: Path) -> None:
    private = _private_stack(tmp_path)
    with pytest.raises(StackError, match="not host:port"):
        private.set_scrape_targets(["localhost"])
    private.set_scrape_targets(["127.0.0.1:9464"])
    assert json.loads(private.targets_file.read_text())[0]["targets"] == ["127.0.0.1:9464"]


def test_cli_up_and_down_use_the_ports_saved_in_home(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    home = tmp_path / "stack"
    private = Stack(StackConfig(home=home, alertmanager_port=free_port(), prometheus_port=free_port()))
    private.home.mkdir(parents=True)
    private._save_config()  # what an earlier `up` leaves behind: the ports to use again
    try:
        code, out = _cli(capsys, "up", "--services", "alertmanager,prometheus", "--home", str(home), "--json")
        assert code == 0
        doc = json.loads(out)
        assert [(s["name"], s["running"]) for s in doc["services"]] == [
            ("prometheus", True),
            ("alertmanager", True),
        ]
        assert doc["services"][1]["address"] == private.alertmanager_url
        assert doc["env"]["CLETS_WATCH_ALERTMANAGER_URL"] == private.alertmanager_url
        assert _get(f"{private.alertmanager_url}/-/ready")[0] == 200
    finally:
        code, out = _cli(capsys, "down", "--home", str(home))
    assert code == 0
    assert "alertmanager" in out and "running" not in out
    assert [s.running for s in private.status()] == [False] * len(SERVICES)


def test_cli_check_lists_requirements(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(capsys, "check", "--json")
    assert code == 0
    assert {json.loads(line)["name"] for line in out.splitlines()} >= {"java", "prometheus", "alertmanager"}


def test_missing_binaries_fail_with_the_setup_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    reqs = {r.name: r for r in system_requirements(["prometheus", "alertmanager"])}
    assert not reqs["prometheus"].ok and not reqs["alertmanager"].ok
    with pytest.raises(StackError) as info:
        _private_stack(tmp_path).up(["prometheus"])
    assert str(info.value) == (
        "prometheus not found: run `make setup` (or `scripts/setup-system.sh`) (apt-get install prometheus)"
    )


def test_generated_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    import shutil

    import yaml

    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: run `make setup` (or `scripts/setup-system.sh`)"
    private = _private_stack(tmp_path)
    private.set_scrape_targets(["127.0.0.1:9464"])
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(private.prometheus_config()))
    proc = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_generated_alertmanager_config_passes_amtool(tmp_path: Path) -> None:
    import shutil

    import yaml

    amtool = shutil.which("amtool")
    assert amtool, "amtool not found: run `make setup` (or `scripts/setup-system.sh`)"
    private = _private_stack(tmp_path)
    config = tmp_path / "alertmanager.yml"
    doc = private.alertmanager_config()
    config.write_text(yaml.safe_dump(doc))
    proc = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    urls = {h["url"] for r in doc["receivers"] for h in r.get("webhook_configs", [])}
    assert urls == {private.config.webhook_url}


@pytest.mark.parametrize("fresh", [True, False])
def test_fresh_wipes_data_only_on_start(tmp_path: Path, fresh: bool) -> None:
    private = Stack(StackConfig(home=tmp_path / "stack", alertmanager_port=free_port(), fresh=fresh))
    try:
        private.up(["alertmanager"])
        marker = private.data_dir("alertmanager") / "marker"
        marker.write_text("from an earlier session")
        private.up(["alertmanager"])  # reused while running: never wiped
        assert marker.exists()
        private.down(["alertmanager"])
        private.up(["alertmanager"])
        assert marker.exists() is (not fresh)
    finally:
        private.down()
