"""The deployment files: docker-compose.yml, Prometheus and Alertmanager configs, Grafana provisioning."""

from __future__ import annotations

import glob
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from clets_watch.stack import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
COMPOSE = PROJECT_ROOT / "docker-compose.yml"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
SETUP = "run `make setup` (or `scripts/setup-system.sh`)"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: {SETUP}", pytrace=False)
    return path


def _compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


# ----------------------------------------------------------------------------- docker-compose.yml


def test_compose_has_every_service_with_image_or_build() -> None:
    services = _compose()["services"]
    assert {"kafka", "postgres", "prometheus", "alertmanager", "grafana", "worker", "producer"} <= set(
        services
    )
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, f"service {name} has neither image nor build"
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["worker"]["build"] == "." and services["producer"]["build"] == "."
    assert services["worker"]["command"][0] == "worker"
    assert services["producer"]["command"][:3] == ["produce", "--to", "kafka"]


def test_compose_publishes_ports_on_loopback_only() -> None:
    published = []
    for name, svc in _compose()["services"].items():
        for port in svc.get("ports", []):
            assert isinstance(port, str), f"{name}: write ports as 'IP:HOST:CONTAINER' strings, got {port!r}"
            assert port.startswith("127.0.0.1:"), f"{name}: port {port} is not bound to 127.0.0.1"
            published.append(int(port.split(":")[1]))
    assert len(published) == len(set(published)), f"a host port is published twice: {published}"
    assert 9092 in published and 9464 in published


def test_compose_mounted_host_files_exist() -> None:
    mounts = []
    for name, svc in _compose()["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")):
                mounts.append((name, source))
    assert mounts, "no host files mounted: Prometheus, Alertmanager and Grafana need their configs"
    for name, source in mounts:
        assert (PROJECT_ROOT / source).exists(), f"{name} mounts {source}, which does not exist"


def test_compose_named_volumes_are_declared() -> None:
    doc = _compose()
    declared = set(doc.get("volumes") or {})
    for name, svc in doc["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} uses volume {source}, not declared under volumes:"


def test_compose_long_running_services_have_healthchecks() -> None:
    services = _compose()["services"]
    # the producer is a finite job and console-init a one-off; every other service runs until stopped
    for name, svc in services.items():
        if name in {"producer", "console-init"}:
            continue
        check = svc.get("healthcheck", {}).get("test")
        assert check and check[0] in {"CMD", "CMD-SHELL"}, f"service {name} has no healthcheck"
    # a service that waits for another waits for it to be healthy (or, for a one-off, finished)
    for name, svc in services.items():
        for dep, cond in (
            (svc.get("depends_on") or {}).items() if isinstance(svc.get("depends_on"), dict) else ()
        ):
            wanted = "service_completed_successfully" if dep == "console-init" else "service_healthy"
            if name == "producer" and dep == "worker":
                continue
            assert cond["condition"] == wanted, f"{name} waits for {dep} with {cond['condition']}"


def test_compose_runs_the_console_with_links_to_it() -> None:
    services = _compose()["services"]
    console = services["console"]
    assert console["command"][0] == "serve" and "127.0.0.1:8470:8470" in console["ports"]
    assert services["console-init"]["command"][:2] == ["serve", "--add-user"]
    assert services["worker"]["environment"]["CLETS_WATCH_CONSOLE_URL"] == "http://127.0.0.1:8470"


def test_compose_wires_the_worker_to_the_services() -> None:
    services = _compose()["services"]
    env = services["worker"]["environment"]
    assert env["CLETS_WATCH_KAFKA_BOOTSTRAP"].split(":")[0] == "kafka"
    assert env["CLETS_WATCH_DB_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in env["CLETS_WATCH_DB_URL"]
    # the internal Kafka listener the worker uses is advertised under the service name
    assert "INTERNAL://kafka:19092" in services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]


def test_dockerfile_installs_the_package() -> None:
    text = (PROJECT_ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.MULTILINE)
    # the locked runtime set with hashes first, then the project itself without resolving anything again
    assert re.search(r"^RUN pip install --require-hashes -r requirements-runtime\.lock$", text, re.MULTILINE)
    assert re.search(r"^RUN pip install --no-deps \.", text, re.MULTILINE)
    assert 'ENTRYPOINT ["clets-watch"]' in text
    for line in re.findall(r"^COPY (.+) \S+$", text, re.MULTILINE):
        for source in line.split():
            if source not in {"README.md"}:  # the README is written by the lead, see the report
                assert (PROJECT_ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"


# ----------------------------------------------------------------------------- Prometheus / Alertmanager


def test_promtool_checks_prometheus_config(tmp_path: Path) -> None:
    promtool = _tool("promtool")
    doc = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    assert doc["scrape_configs"][0]["static_configs"][0]["targets"] == ["worker:9464"]
    assert doc["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert doc["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    # check the config with the rule files compose mounts at /etc/prometheus/rules: point the glob at them
    local = dict(doc, rule_files=[str(DEPLOY / "prometheus" / "rules" / "*.yml")])
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(local))
    proc = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout + proc.stderr
    rules = glob.glob(str(DEPLOY / "prometheus" / "rules" / "*.yml"))
    for rule_file in rules:
        assert Path(rule_file).name in proc.stdout + proc.stderr


def test_amtool_checks_alertmanager_config() -> None:
    amtool = _tool("amtool")
    proc = subprocess.run(
        [amtool, "check-config", str(DEPLOY / "alertmanager.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


@pytest.mark.parametrize(
    ("severity", "receiver"),
    [
        ("critical", "oncall-webhook-critical"),
        ("high", "oncall-webhook-critical"),
        ("warning", "oncall-webhook"),
        ("info", "oncall-webhook"),
    ],
)
def test_alertmanager_routes_by_severity(severity: str, receiver: str) -> None:
    amtool = _tool("amtool")
    proc = subprocess.run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={DEPLOY / 'alertmanager.yml'}",
            f"severity={severity}",
            "rule=dmv_burst",
            "ori=CA0190000",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == receiver


def test_alertmanager_receivers_are_webhooks() -> None:
    doc = yaml.safe_load((DEPLOY / "alertmanager.yml").read_text())
    urls = [hook["url"] for r in doc["receivers"] for hook in r.get("webhook_configs", [])]
    assert urls and all(u == "http://oncall-webhook:8080/alerts" for u in urls)


# ----------------------------------------------------------------------------- Grafana


def test_grafana_provisioning_points_at_prometheus_and_dashboards() -> None:
    ds = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    (source,) = ds["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/dashboards.yml").read_text())[
        "providers"
    ]
    mounted = {
        v.split(":")[1]
        for v in _compose()["services"]["grafana"]["volumes"]
        if v.startswith("./deploy/grafana/dashboards")
    }
    assert {p["options"]["path"] for p in providers} == mounted


def _dashboards() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, json.loads(p.read_text())) for p in sorted(DASHBOARDS.glob("*.json"))]


def test_dashboards_load_and_every_panel_has_expressions() -> None:
    dashboards = _dashboards()
    assert [p.name for p, _ in dashboards].count("clets-watch-overview.json") == 1
    uids = [d["uid"] for _, d in dashboards]
    assert len(uids) == len(set(uids)), f"duplicate dashboard uids: {uids}"
    for path, dash in dashboards:
        assert dash["panels"], f"{path.name} has no panels"
        ids = [p["id"] for p in dash["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in dash["panels"]:
            assert panel["targets"], f"{path.name}: panel {panel['title']!r} has no targets"
            for target in panel["targets"]:
                assert target.get("expr", "").strip(), (
                    f"{path.name}: panel {panel['title']!r} target without expr"
                )


def test_overview_dashboard_covers_the_core_metrics() -> None:
    dash = json.loads((DASHBOARDS / "clets-watch-overview.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    for metric, label in [
        ("clets_watch_queries_total", "ori"),
        ("clets_watch_queries_total", "verdict"),
        ("clets_watch_alerts_total", "rule"),
        ("clets_watch_dead_letter_total", "reason"),
    ]:
        assert any(metric in e and re.search(rf"by \([^)]*\b{label}\b", e) for e in exprs), (metric, label)


@pytest.mark.integration
def test_dashboard_expressions_are_valid_promql(prometheus: Any) -> None:
    """Every panel query parses and evaluates in a real Prometheus (template variables set to 'All')."""
    for path, dash in _dashboards():
        for panel in dash["panels"]:
            for target in panel["targets"]:
                expr = target["expr"].replace("$__rate_interval", "1m")  # before the generic variables
                expr = re.sub(r"\$\{?\w+\}?", ".*", expr)
                try:
                    prometheus.query(expr)
                except Exception as exc:  # noqa: BLE001 - report which panel broke, with the server's reason
                    detail = exc.read().decode() if hasattr(exc, "read") else str(exc)
                    pytest.fail(f"{path.name}: panel {panel['title']!r}: {expr!r}: {detail}", pytrace=False)
