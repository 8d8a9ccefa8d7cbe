"""The simulator's own knowledge of CLETS message keys: which data source each key reaches, and
what mix of keys and intents each kind of agency sends (domain.md, "Identifiers and message keys"); the
mixes are data, in ``producers/data/traffic_profiles.yaml``.

The pipeline's policy owns its own copy of the key → data-source table (``processors.policy``); this one
is what the *simulator* knows about CLETS, used to pick realistic keys and subjects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any, Final

import msgspec
import msgspec.yaml

from processors.agencies import Agency

DATA_SOURCE_KEYS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "criminal_history": ("QH", "QR", "IQ", "FQ", "AQ"),
        "dmv_license": ("DQ", "DNQ", "DQG"),
        "dmv_registration": ("RQ", "RNQ", "RPQ"),
        "wanted_person": ("QW", "QWB"),
        "property": ("QV", "QG", "QA"),
        "corrections": ("PAQ", "PPQ", "PBQ"),
        "hit_confirmation": ("YQ",),
    }
)

_SOURCE_BY_KEY: Final[Mapping[str, str]] = MappingProxyType(
    {key: source for source, keys in DATA_SOURCE_KEYS.items() for key in keys}
)

MESSAGE_KEYS: Final[frozenset[str]] = frozenset(_SOURCE_BY_KEY)


class UnknownMessageKey(KeyError):
    """A message key the simulator does not model."""


def data_source(message_type: str) -> str:
    """The data source a message key reaches, e.g. ``DQ`` → ``dmv_license``."""
    try:
        return _SOURCE_BY_KEY[message_type]
    except KeyError:
        raise UnknownMessageKey(
            f"unknown message key {message_type!r}; known: {sorted(MESSAGE_KEYS)}"
        ) from None


@dataclass(frozen=True, slots=True)
class IntentMix:
    """One intent an agency kind queries for, its share of that kind's traffic, and the keys it uses."""

    intent: str
    weight: float
    keys: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class TrafficProfile:
    """How one kind of agency queries: relative volume, daily shape and the intent/key mix."""

    name: str
    base_weight: float  # relative share of statewide traffic for one agency of this kind
    night_floor: float  # activity at 03:00 relative to the weekday midday peak (1.0)
    weekend_factor: float  # weekend activity relative to weekdays
    mix: tuple[IntentMix, ...]


_Keys = str | list[str] | dict[str, float]


class _ProfileRow(msgspec.Struct, forbid_unknown_fields=True):
    base_weight: float
    night_floor: float
    weekend_factor: float
    mix: list[tuple[str, float, _Keys]]


class _ProfileFile(msgspec.Struct, forbid_unknown_fields=True):
    key_mixes: dict[str, dict[str, float]]
    kinds: dict[str, Any]  # each a _ProfileRow, converted one by one so that an error names its profile
    components: dict[str, Any]


class TrafficProfileError(ValueError):
    """A traffic profile file that does not parse or names an unknown key mix or message key."""


def load_profiles(text: str, source: str) -> tuple[dict[str, TrafficProfile], dict[str, TrafficProfile]]:
    """The traffic profiles of a YAML text (``producers/data/traffic_profiles.yaml``): by kind, by component."""
    try:
        doc = msgspec.yaml.decode(text, type=_ProfileFile)
    except msgspec.ValidationError as exc:
        raise TrafficProfileError(f"{source}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise TrafficProfileError(f"{source}: not valid YAML: {exc}") from exc

    def keys(where: str, spec: _Keys) -> tuple[tuple[str, float], ...]:
        pairs: list[tuple[str, float]] = []
        for mix in [spec] if isinstance(spec, str | dict) else spec:
            if isinstance(mix, str) and mix not in doc.key_mixes:
                raise TrafficProfileError(
                    f"{source}: {where} names key mix {mix!r}; known: {sorted(doc.key_mixes)}"
                )
            pairs += (doc.key_mixes[mix] if isinstance(mix, str) else mix).items()
        unknown = sorted({key for key, _ in pairs} - MESSAGE_KEYS)
        if unknown:
            raise TrafficProfileError(f"{source}: {where} has unknown message key(s) {unknown}")
        return tuple(pairs)

    def profile(where: str, name: str, raw: Any) -> TrafficProfile:
        try:
            row = msgspec.convert(raw, _ProfileRow)
        except msgspec.ValidationError as exc:
            raise TrafficProfileError(f"{source}: {where}: {exc}") from exc
        mix = tuple(
            IntentMix(intent, weight, keys(f"{where}.mix[{i}]", spec))
            for i, (intent, weight, spec) in enumerate(row.mix)
        )
        return TrafficProfile(name, row.base_weight, row.night_floor, row.weekend_factor, mix)

    def profiles(section: str, rows: dict[str, Any]) -> dict[str, TrafficProfile]:
        return {name: profile(f"{section}.{name}", name, raw) for name, raw in rows.items()}

    return profiles("kinds", doc.kinds), profiles("components", doc.components)


_KINDS, _COMPONENTS = load_profiles(
    resources.files("producers").joinpath("data/traffic_profiles.yaml").read_text(encoding="utf-8"),
    source="bundled traffic_profiles.yaml",
)
_BY_KIND: Final[Mapping[str, TrafficProfile]] = MappingProxyType(_KINDS)
_BY_COMPONENT: Final[Mapping[str, TrafficProfile]] = MappingProxyType(_COMPONENTS)

# Agencies whose volume is far above their kind's norm (the bundled registry's big ones).
# Only the simulator uses this: the pipeline never infers anything from an ORI.
SIZE_BY_ORI: Final[Mapping[str, float]] = MappingProxyType(
    {
        "CA0190000": 5.0,  # Los Angeles County Sheriff's Department
        "CA0194200": 4.0,  # Los Angeles Police Department
        "CA0349400": 4.0,  # California Highway Patrol
        "CA0370000": 2.0,  # San Diego County Sheriff's Department
        "CA0360000": 2.0,  # San Bernardino County Sheriff's Department
        "CA0330000": 2.0,  # Riverside County Sheriff's Department
        "CA0300000": 2.0,  # Orange County Sheriff's Department
        "CA0371100": 2.0,  # San Diego Police Department
        "CA0431300": 1.8,  # San Jose Police Department
        "CA0380100": 1.6,  # San Francisco Police Department
    }
)


def profile_for(agency: Agency) -> TrafficProfile:
    """The traffic profile of an agency: by DHS component first, then by kind."""
    if agency.component and agency.component in _BY_COMPONENT:
        return _BY_COMPONENT[agency.component]
    return _BY_KIND[agency.kind]
