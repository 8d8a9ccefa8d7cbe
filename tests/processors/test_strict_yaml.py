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
    text = "a: 1\nb: [1, 2, {c: d}]\n'1': one\n1: int one\n'<<': a quoted key\nc: \"x\"\nd: 2026-01-01\n"
    assert strict_yaml.load(text) == yaml.safe_load(text)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("m:\n  <<: {c: [ICE-ERO]}\n  <<: {c: []}\n", r"line 2: merge key '<<' refused"),
        ("m:\n  <<: {c: [ICE-ERO], c: []}\n", r"line 2: merge key '<<' refused"),
        ("m: {x: 1, <<: {x: 2}}\n", r"line 1: merge key '<<' refused"),
        ("a: 1\nbase: &b {t: 0.5}\n", r"line 2: anchor '&b' refused"),
        ("a: [1]\nb: *b\n", r"line 2: alias '\*b' refused"),
        ("a: !!binary aGk=\n", r"line 1: explicit tag 'tag:yaml.org,2002:binary' refused"),
        ("a:\n  b: !!bool 'false'\n", r"line 2: explicit tag 'tag:yaml.org,2002:bool' refused"),
        ("a: !!set {x}\n", r"line 1: explicit tag 'tag:yaml.org,2002:set' refused"),
        ("a: !custom 1\n", r"line 1: explicit tag '!custom' refused"),
    ],
)
def test_the_loader_refuses_merge_keys_anchors_aliases_and_tags(text: str, found: str) -> None:
    with pytest.raises(strict_yaml.RefusedFeatureError, match=found):
        strict_yaml.load(text)


@pytest.mark.parametrize(
    "presumption",
    [
        "  <<: {components: [ICE-ERO]}\n  <<: {components: []}\n",
        "  <<: {components: [ICE-ERO], components: []}\n",
    ],
)
def test_a_policy_with_a_merged_mission_presumption_is_refused(tmp_path: Path, presumption: str) -> None:
    policy = tmp_path / "policy.yaml"
    text = _bundled_policy()
    start = text.index("\nmission_presumption:")
    end = text.index("\n", start + 1)
    while text[end + 1 : end + 2] in (" ", "\n", "#"):  # the mapping's indented lines
        end = text.index("\n", end + 1)
    policy.write_text(
        text[: start + 1] + "mission_presumption:\n" + presumption + text[end + 1 :], encoding="utf-8"
    )
    line = text[: start + 1].count("\n") + 2
    with pytest.raises(PolicyError) as err:
        load_policy(policy)
    assert str(policy) in str(err.value) and f"line {line}: merge key '<<' refused" in str(err.value)


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


_MERGED_THRESHOLD = "rules:\n  immigration_share:\n    params:\n"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (
            (
                "rules:\n  prohibited_query:\n    enabled: false\n  immigration_share:\n    params:\n"
                "      threshold: 0.5\n  prohibited_query:\n    severity: critical\n"
            ),
            "line 7: duplicate key 'prohibited_query'",
        ),
        (
            "rules:\n  immigration_share:\n    params:\n      threshold: 0.5\n      threshold: 0.99\n",
            "line 5: duplicate key 'threshold'",
        ),
        # a key written twice through merge keys, within one merge or across two: merge keys are refused
        (
            _MERGED_THRESHOLD + "      <<: {threshold: 0.5, threshold: 0.99}\n",
            "line 4: merge key '<<' refused",
        ),
        (
            _MERGED_THRESHOLD + "      <<: {threshold: 0.5}\n      <<: {threshold: 0.99}\n",
            "line 4: merge key '<<' refused",
        ),
    ],
)
def test_a_rules_file_with_a_repeated_key_is_refused(tmp_path: Path, text: str, found: str) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(text, encoding="utf-8")
    with pytest.raises(RuleConfigError) as err:
        load_rules_config(rules)
    assert str(rules) in str(err.value) and found in str(err.value)


def test_the_bundled_config_files_have_no_repeated_key() -> None:
    load_policy()
    load_rules_config()


@pytest.mark.parametrize(
    "path",
    [
        "processors/policy/policy_v1.yaml",
        "processors/policy/statutes_v1.yaml",
        "processors/rules/rules.yaml",
        "producers/data/traffic_profiles.yaml",
    ],
)
def test_every_shipped_config_file_loads_strictly(path: str) -> None:
    text = (Path(__file__).resolve().parents[2] / path).read_text(encoding="utf-8")
    assert strict_yaml.load(text) == yaml.safe_load(text)
