"""Config files refuse to half-load (issue 13): the agency registry and rules.yaml are read strictly,
and errors name the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.agencies import AgencyRegistry, RegistryError
from processors.rules.base import RuleConfigError
from processors.rules.config import load_rules_config

HEADER = "ori,name,kind,department,component\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            HEADER + "CA0190000,LASD,sheriff,,\nCA0190000,ICE,federal,DHS,ICE-ERO\n",
            "line 3: column ori: CA0190000 is already listed on line 2",
        ),
        (HEADER + "ca0190000,LASD,sheriff,,\n", "line 2: column ori: 'ca0190000' is not an ORI"),
        (HEADER + "CA019,LASD,sheriff,,\n", "line 2: column ori: 'CA019' is not an ORI"),
        (HEADER + "CA0190000,LASD,sherif,,\n", "line 2: column kind: 'sherif'"),
        (HEADER, "lists no agency"),
        (
            "ori,name,kind,department,component,notes\nCA0190000,LASD,sheriff,,,x\n",
            "line 1: header must be ori,name,kind,department,component: unknown column(s) ['notes']",
        ),
        ("ori,name,kind,department\nCA0190000,LASD,sheriff,\n", "missing column(s) ['component']"),
        (HEADER + "CA0190000,LASD,sheriff,,,extra\n", "line 2: 6 values, the header has 5"),
    ],
)
def test_a_bad_registry_refuses_to_load_naming_file_line_and_column(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, "agencies.csv", text)
    with pytest.raises(RegistryError) as info:
        AgencyRegistry.load(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_a_registry_with_a_bom_and_quoted_multiline_names_loads_with_true_line_numbers(
    tmp_path: Path,
) -> None:
    text = "\ufeff" + HEADER + 'CA0190000,"Los Angeles\nSheriff",sheriff,,\nCA0190000,dup,police,,\n'
    with pytest.raises(RegistryError, match="line 4: column ori: CA0190000 is already listed on line 3"):
        AgencyRegistry.load(write(tmp_path, "a.csv", text))
    ok = AgencyRegistry.load(write(tmp_path, "b.csv", "\ufeff" + HEADER + "CA0190000,LASD,sheriff,,\n"))
    assert "CA0190000" in ok


def test_the_bundled_registry_loads() -> None:
    assert len(AgencyRegistry.load()) > 10


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "rules:\n  flatline:\n    params:\n      min_baselin: 3\n",
            "line 4: rules.flatline.params.min_baselin: unknown parameter of rule flatline",
        ),
        (
            "rules:\n  flatline:\n    params:\n      min_baseline: '3'\n",
            "line 4: rules.flatline.params.min_baseline: must be a float",
        ),
        (
            "rules:\n  flatline:\n    enabled: 'false'\n",
            "line 3: rules.flatline.enabled: must be true or false",
        ),
        (
            "rules:\n  flatline:\n    severty: high\n",
            "line 3: rules.flatline.severty: unknown key(s) ['severty']",
        ),
        ("rules:\n  flatlin:\n    enabled: false\n", "line 2: rules.flatlin: unknown rule(s) ['flatlin']"),
        ("defaults:\n  suppress_secs: 10\n", "line 2: defaults.suppress_secs: unknown key"),
        ("recommendation:\n  watch_afte: 2\n", "line 2: recommendation.watch_afte: unknown key"),
        (
            "recommendation:\n  watch_after: 0\n",
            "line 2: recommendation.watch_after: must be a positive integer",
        ),
        ("version: one\n", "line 1: version: must be a positive integer"),
        ("rulez: {}\n", "line 1: unknown top-level key(s) ['rulez']"),
        ("rules:\n  cardinality:\n    params:\n      max_distinct_subjects: true\n", "must be a int"),
    ],
)
def test_a_bad_rules_file_refuses_to_load_naming_file_line_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, "rules.yaml", text)
    with pytest.raises(RuleConfigError) as info:
        load_rules_config(path)
    assert str(path) in str(info.value) and message in str(info.value), str(info.value)


def test_a_good_override_merges_and_ints_are_accepted_for_floats(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "rules.yaml",
        "rules:\n  flatline:\n    enabled: false\n    params:\n      min_baseline: 3\n",
    )
    config = load_rules_config(path)
    assert config.rules["flatline"].enabled is False and config.rules["flatline"].params["min_baseline"] == 3
    assert config.rules["flatline"].params["silent_windows"] == 10  # the bundled default stays
