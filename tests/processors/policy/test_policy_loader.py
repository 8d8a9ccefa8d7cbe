from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from processors.policy import Policy, PolicyError, load_policy
from processors.policy.loader import parse_policy
from processors.policy.model import RULE_KINDS

BUNDLED = Path(__file__).resolve().parents[3] / "processors" / "policy" / "policy_v1.yaml"


def test_bundled_policy_loads_with_version_and_every_rule() -> None:
    policy = load_policy()
    assert isinstance(policy, Policy)
    assert policy.version == "1"
    assert set(policy.rules) == set(RULE_KINDS)
    for rule in policy.rules.values():
        assert rule.id.startswith(rule.clause + ".")
        assert rule.description and rule.clause in {
            "POL-1",
            "POL-2",
            "POL-2a",
            "POL-2b",
            "POL-2c",
            "POL-2d",
            "POL-3",
            "POL-4",
        }


@pytest.mark.parametrize(
    "key,source",
    [
        ("QH", "criminal_history"),
        ("qr", "criminal_history"),
        ("DQ", "dmv_license"),
        ("RPQ", "dmv_registration"),
        ("QWB", "wanted_person"),
        ("QG", "property"),
        ("PBQ", "corrections"),
        ("YQ", "hit_confirmation"),
        ("ZZ", "unknown"),
    ],
)
def test_data_source_by_message_key(key: str, source: str) -> None:
    assert load_policy().data_source(key) == source


def test_every_indicator_cites_a_clause_and_has_a_description() -> None:
    for ind in load_policy().indicators:
        assert ind.description and ind.clause.startswith("POL-")


def _mutated(**changes: object) -> str:
    data = yaml.safe_load(BUNDLED.read_text(encoding="utf-8"))
    data.update(changes)
    return yaml.safe_dump(data)


def test_a_version_bump_is_stamped() -> None:
    assert parse_policy(_mutated(version="2")).version == "2"


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"version": ""}, "version"),
        ({"data_sources": {"a": ["QH"], "b": ["QH"]}}, "listed under both"),
        ({"rules": {}}, "rules.no_justification is missing"),
        ({"revoked_access": [{"component": "ICE-ERO", "from": "not a date"}]}, "ISO 8601"),
        ({"revoked_access": [{"component": "ICE-ERO", "from": "2019-10-15T00:00:00"}]}, "UTC offset"),
        (
            {
                "indicators": [
                    {"id": "X", "kind": "bogus", "strength": "strong", "description": "", "clause": "POL-2"}
                ]
            },
            "kind must be one of",
        ),
        (
            {
                "indicators": [
                    {
                        "id": "X",
                        "kind": "immigration",
                        "strength": "strong",
                        "description": "d",
                        "clause": "POL-2",
                        "patterns": ["("],
                    }
                ]
            },
            "bad pattern",
        ),
        (
            {"other_senses": [{"word": "ice cream", "sense": "s", "cues": ["x"]}]},
            r"other_senses\[0\]\.word must be one token",
        ),
        ({"other_senses": [{"word": "ice", "sense": "s", "cues": []}]}, "at least one cue"),
        ({"other_senses": [{"word": "ice", "sense": "", "cues": ["x"]}]}, "sense must be a non-empty string"),
        ({"other_senses": [{"word": "ice", "sense": "s", "window": 0, "cues": ["x"]}]}, "positive integer"),
        (
            {
                "other_senses": [
                    {"word": "ice", "sense": "s", "cues": ["x"]},
                    {"word": "ICE", "sense": "t", "cues": ["y"]},
                ]
            },
            "listed twice",
        ),
    ],
)
def test_bad_policy_files_raise_policy_error_naming_the_problem(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(_mutated(**changes), source="test.yaml")


def test_unreadable_and_non_yaml_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="mapping"):
        load_policy(listy)
    assert issubclass(PolicyError, ValueError)


def test_other_senses_load_as_data() -> None:
    senses = {s.word: s for s in load_policy().other_senses}
    assert {"ice", "removal", "nta"} <= set(senses)
    assert "poss*" in senses["ice"].cues and senses["ice"].window >= 1 and senses["ice"].sense
