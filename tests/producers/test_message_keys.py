"""The simulator's traffic profiles, loaded from ``producers/data/traffic_profiles.yaml``."""

from __future__ import annotations

import pytest

from processors.agencies import AgencyRegistry
from producers.message_keys import (
    MESSAGE_KEYS,
    IntentMix,
    TrafficProfileError,
    load_profiles,
    profile_for,
)

_GOOD = """
key_mixes:
  iii: {QH: 4.0, QR: 3}
  dmv: {DQ: 3.0}
kinds:
  police:
    base_weight: 6.0
    night_floor: 0.35
    weekend_factor: 0.8
    mix:
      - [routine_patrol, 0.9, iii]
      - [no_justification, 0.1, {QW: 1.0}]
components:
  CBP:
    base_weight: 0.7
    night_floor: 0.3
    weekend_factor: 0.7
    mix:
      - [immigration_criminal, 1.0, [iii, dmv]]
"""


def test_a_row_names_a_mix_a_list_of_mixes_or_its_own_keys() -> None:
    kinds, components = load_profiles(_GOOD, source="test.yaml")
    police = kinds["police"]
    assert (police.name, police.base_weight, police.night_floor, police.weekend_factor) == (
        "police",
        6.0,
        0.35,
        0.8,
    )
    assert police.mix == (
        IntentMix("routine_patrol", 0.9, (("QH", 4.0), ("QR", 3.0))),
        IntentMix("no_justification", 0.1, (("QW", 1.0),)),
    )
    # a list of mixes: their keys one after the other, in order
    assert components["CBP"].mix[0].keys == (("QH", 4.0), ("QR", 3.0), ("DQ", 3.0))
    assert all(isinstance(w, float) for _, w in components["CBP"].mix[0].keys)


def test_every_bundled_profile_uses_known_keys_and_every_agency_has_one() -> None:
    registry = AgencyRegistry.load(None)
    for agency in registry:
        profile = profile_for(agency)
        assert profile.base_weight > 0 and 0 < profile.weekend_factor <= 1
        assert profile.mix and all(m.weight > 0 and m.keys for m in profile.mix)
        assert {key for m in profile.mix for key, _ in m.keys} <= MESSAGE_KEYS
    ero = next(a for a in registry if a.component == "ICE-ERO")
    assert profile_for(ero).name == "ICE-ERO"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("[routine_patrol, 0.9, iii]", "[routine_patrol, 0.9, nope]"),
            r"kinds\.police\.mix\[0\] names key mix 'nope'",
        ),
        (("{QW: 1.0}", "{ZZ: 1.0}"), r"kinds\.police\.mix\[1\] has unknown message key\(s\) \['ZZ'\]"),
        (
            ("base_weight: 6.0", "base_weight: lots"),
            r"kinds\.police: Expected `float`, got `str` - at `\$\.base_weight`",
        ),
        (
            ("night_floor: 0.3\n", "night_floor: 0.3\n    colour: red\n"),
            r"components\.CBP: Object contains unknown field `colour`",
        ),
        (("key_mixes:", "key_mixes: [\n"), "not valid YAML"),
    ],
)
def test_a_broken_file_names_the_file_and_the_problem(change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in _GOOD
    with pytest.raises(TrafficProfileError, match=r"^test\.yaml: .*" + message):
        load_profiles(_GOOD.replace(old, new, 1), source="test.yaml")
