"""Config files refuse a duplicate key (``processors.strict_yaml``), naming the file, the line and the key:
``yaml.safe_load`` kept the last one, so a key appended at the end silently replaced the reviewed one."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from processors import strict_yaml
from processors.policy import load_policy
from processors.policy.loader import parse_statutes
from processors.policy.model import PolicyError
from processors.rules.base import RuleConfigError
from processors.rules.config import load_rules_config


def test_the_loader_refuses_a_repeated_key_naming_both_lines() -> None:
    with pytest.raises(strict_yaml.DuplicateKeyError, match=r"line 3: duplicate key 'a' \(first on line 1\)"):
        strict_yaml.load("a: 1\nb: 2\na: 3\n")
    with pytest.raises(strict_yaml.DuplicateKeyError, match="duplicate key 'x'"):
        strict_yaml.load("top:\n  - {x: 1, x: 2}\n")


def test_the_loader_reads_what_safe_load_reads() -> None:
    text = "a: 1\nb: [1, 2, {c: d}]\n'1': one\n1: int one\nbase: &b {t: 0.5}\nover:\n  <<: *b\n  t: 0.9\n"
    assert strict_yaml.load(text) == yaml.safe_load(text)
    assert strict_yaml.load(text)["over"] == {"t": 0.9}  # a merged key may be overridden, as YAML intends


def _bundled_policy() -> str:
    return resources.files("processors.policy").joinpath("policy_v1.yaml").read_text(encoding="utf-8")


def test_a_policy_with_a_second_mission_presumption_is_refused(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    text = _bundled_policy()
    policy.write_text(text + "\nmission_presumption:\n  components: []\n", encoding="utf-8")
    line = text.count("\n") + 2
    with pytest.raises(PolicyError) as err:
        load_policy(policy)
    message = str(err.value)
    assert str(policy) in message and f"line {line}: duplicate key 'mission_presumption'" in message


def test_a_statute_table_with_a_repeated_section_is_refused() -> None:
    text = (
        "version: 1\ncodes:\n  PC: {title: Penal Code, aliases: [pc]}\n"
        "sections:\n  PC:\n    '211': [violent, robbery]\n    '211': [minor, robbery]\n"
    )
    with pytest.raises(PolicyError, match=r"statutes.yaml: not valid YAML: line 7: duplicate key '211'"):
        parse_statutes(text, source="statutes.yaml")


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        (
            (
                "rules:\n  prohibited_query:\n    enabled: false\n  immigration_share:\n    params:\n"
                "      threshold: 0.5\n  prohibited_query:\n    severity: critical\n"
            ),
            7,
            "prohibited_query",
        ),
        (
            "rules:\n  immigration_share:\n    params:\n      threshold: 0.5\n      threshold: 0.99\n",
            5,
            "threshold",
        ),
    ],
)
def test_a_rules_file_with_a_repeated_key_is_refused(tmp_path: Path, text: str, line: int, key: str) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(text, encoding="utf-8")
    with pytest.raises(RuleConfigError) as err:
        load_rules_config(rules)
    assert str(rules) in str(err.value) and f"line {line}: duplicate key {key!r}" in str(err.value)


def test_the_bundled_config_files_have_no_repeated_key() -> None:
    load_policy()
    load_rules_config()
