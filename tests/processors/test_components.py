"""Component names come from one list (``processors.agencies.DEPARTMENT_COMPONENTS``): a typo in the
registry or in the policy's component lists (``ICE-ER0``, a zero) is refused, naming the file, the line and
the nearest known name, instead of silently switching the ICE clauses off."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from processors.agencies import COMPONENTS, AgencyRegistry, RegistryError
from processors.policy import load_policy
from processors.policy.model import PolicyError

HEADER = "ori,name,kind,department,component\n"


def _registry_text() -> str:
    return resources.files("producers").joinpath("data/agencies.csv").read_text(encoding="utf-8")


def test_the_bundled_registry_and_policy_use_known_components() -> None:
    registry = AgencyRegistry.load()
    assert {a.component for a in registry if a.component} <= COMPONENTS
    policy = load_policy()
    assert policy.presumption_components | policy.context_components <= COMPONENTS


def test_a_registry_component_typo_is_refused_with_the_nearest_name(tmp_path: Path) -> None:
    path = tmp_path / "agencies.csv"
    lines = _registry_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.endswith(",ICE-ERO"))
    lines[at] = lines[at].removesuffix("ICE-ERO") + "ICE-ER0"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RegistryError) as err:
        AgencyRegistry.load(path)
    message = str(err.value)
    assert f"{path} line {at + 1}: column component: unknown component 'ICE-ER0'" in message
    assert "did you mean ICE-ERO?" in message


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (
            "CAICE0900,x,federal,DSH,ICE-ERO\n",
            "column department: unknown department 'DSH': did you mean DHS?",
        ),
        (
            "CAICE0900,x,federal,DOJ,ICE-ERO\n",
            "column component: ICE-ERO is not a component of department 'DOJ'",
        ),
        ("CAICE0900,x,federal,,CBP\n", "column component: CBP is not a component of department None"),
    ],
)
def test_a_registry_department_must_be_known_and_hold_its_component(row: str, problem: str) -> None:
    with pytest.raises(RegistryError, match=f"r.csv line 2: {problem}"):
        AgencyRegistry.parse(HEADER + row, source="r.csv")


def _policy_with(tmp_path: Path, old: str, new: str) -> Path:
    text = resources.files("processors.policy").joinpath("policy_v1.yaml").read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path = tmp_path / "policy.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    (tmp_path / "statutes_v1.yaml").write_text(
        resources.files("processors.policy").joinpath("statutes_v1.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("  components: [ICE-ERO]", "  components: [ICE-ER0]", "mission_presumption.components[0]"),
        ("  - component: ICE-ERO", "  - component: ICE-ER0", "revoked_access[0].component"),
        (
            "immigration_context_components: [ICE-ERO, ICE-HSI, CBP, USCIS]",
            "immigration_context_components: [ICE-ERO, ICE-HSI, CPB, USCIS]",
            "immigration_context_components[2]",
        ),
    ],
)
def test_a_policy_component_typo_is_refused_with_line_and_nearest_name(
    tmp_path: Path, old: str, new: str, key: str
) -> None:
    path = _policy_with(tmp_path, old, new)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text == new)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    message = str(err.value)
    assert f"{path} (line {line}): key {key!r}: unknown component" in message
    assert "did you mean" in message
