"""The Prometheus alerting rules in deploy/prometheus/rules: promtool checks them and runs their unit tests.

promtool comes with Debian's ``prometheus`` package (scripts/setup-system.sh installs it).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from clets_watch.stack import PROJECT_ROOT
from tests.helpers import REQUIRED_ALERTS, run_process

RULES_DIR = PROJECT_ROOT / "deploy" / "prometheus" / "rules"
TESTS_DIR = PROJECT_ROOT / "deploy" / "prometheus" / "tests"
SEVERITIES = {"critical", "high", "warning", "info"}


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found: run `make setup` (or `scripts/setup-system.sh`; Debian package prometheus)",
            pytrace=False,
        )
    return path


def _rule_files() -> list[Path]:
    files = sorted(RULES_DIR.glob("*.yml"))
    assert files, f"no rule files in {RULES_DIR}"
    return files


def _alerting_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for path in _rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(r for r in group["rules"] if "alert" in r)
    return rules


def _tested_alertnames() -> set[tuple[str, bool]]:
    """(alertname, fires) for every alert_rule_test in the promtool test files."""
    seen: set[tuple[str, bool]] = set()
    for path in sorted(TESTS_DIR.glob("*.yml")):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                seen.add((case["alertname"], bool(case.get("exp_alerts"))))
    return seen


def test_promtool_check_rules_passes() -> None:
    files = _rule_files()
    proc = run_process([_promtool(), "check", "rules", *map(str, files)], timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == len(files), proc.stdout


def test_promtool_unit_tests_pass() -> None:
    tests = sorted(TESTS_DIR.glob("*.yml"))
    assert tests, f"no promtool test files in {TESTS_DIR}"
    # rule_files in a test file are relative to the test file's folder
    proc = run_process([_promtool(), "test", "rules", *map(str, tests)], timeout=120, cwd=TESTS_DIR)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout and "FAILED" not in proc.stdout, proc.stdout


def test_every_required_alert_exists_with_severity_and_annotations() -> None:
    rules = _alerting_rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names)), f"duplicate alert names: {names}"
    assert REQUIRED_ALERTS <= set(names), f"missing alerts: {REQUIRED_ALERTS - set(names)}"
    for rule in rules:
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        for key in ("summary", "description", "runbook"):
            assert rule["annotations"].get(key, "").strip(), f"{rule['alert']} has no {key} annotation"


def test_every_alert_is_unit_tested_firing_and_not_firing() -> None:
    tested = _tested_alertnames()
    for name in (r["alert"] for r in _alerting_rules()):
        assert (name, True) in tested, f"no promtool test where {name} fires"
        assert (name, False) in tested, f"no promtool test where {name} stays silent"


def test_runbook_anchors_exist_in_the_oncall_guide() -> None:
    guide = (PROJECT_ROOT / "docs" / "oncall.md").read_text()
    # GitHub's anchor of "### CletsWorkerDown" is "cletsworkerdown"
    headings = {line[4:].strip().lower() for line in guide.splitlines() if line.startswith("### ")}
    for rule in _alerting_rules():
        runbook = rule["annotations"]["runbook"]
        path, _, anchor = runbook.partition("#")
        assert path == "docs/oncall.md", runbook
        assert anchor in headings, f"{rule['alert']}: docs/oncall.md has no '### {rule['alert']}' section"


def test_dhs_alert_routes_to_the_critical_receiver() -> None:
    """The rule's labels, as Alertmanager sees them, reach the paging receiver."""
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.fail(
            "amtool not found: run `make setup` (Debian package prometheus-alertmanager)", pytrace=False
        )
    rule = next(r for r in _alerting_rules() if r["alert"] == "DHSProhibitedQueries")
    labels = {"alertname": rule["alert"], **rule["labels"], "ori": "CAICE0100", "component": "ICE-ERO"}
    proc = subprocess.run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={PROJECT_ROOT / 'deploy' / 'alertmanager.yml'}",
            *(f"{k}={v}" for k, v in labels.items()),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "oncall-webhook-critical"
