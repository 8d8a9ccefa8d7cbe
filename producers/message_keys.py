"""The simulator's own knowledge of CLETS message keys: which data source each key reaches, and
what mix of keys and intents each kind of agency sends (domain.md, "Identifiers and message keys").

The pipeline's policy owns its own copy of the key → data-source table (``processors.policy``); this one
is what the *simulator* knows about CLETS, used to pick realistic keys and subjects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

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


_PATROL = (("RQ", 5.0), ("DQ", 4.0), ("QW", 3.0), ("RPQ", 0.4), ("QV", 0.6), ("YQ", 0.3))
_TRAFFIC = (("DQ", 5.0), ("RQ", 4.0), ("QW", 1.0), ("DNQ", 0.5), ("RNQ", 0.3))
_INVESTIGATION = (
    ("QH", 2.0),
    ("QR", 1.0),
    ("DQ", 1.5),
    ("DNQ", 0.8),
    ("RQ", 1.0),
    ("RNQ", 0.5),
    ("QW", 1.5),
    ("QV", 0.5),
    ("QG", 0.4),
    ("QA", 0.2),
    ("PAQ", 0.3),
    ("PPQ", 0.3),
    ("IQ", 0.2),
)
_WARRANT = (("QW", 5.0), ("QWB", 0.3), ("DQ", 1.0), ("DNQ", 0.6), ("YQ", 1.0))
_PROSECUTION = (("QH", 4.0), ("QR", 3.0), ("QW", 1.0), ("FQ", 0.3), ("AQ", 0.2), ("DQ", 0.3))
_SUPERVISION = (("PAQ", 3.0), ("PPQ", 4.0), ("PBQ", 0.5), ("QH", 2.0), ("QR", 1.5), ("QW", 1.0))
_FEDERAL_CRIMINAL = (
    ("QH", 3.0),
    ("QR", 2.0),
    ("IQ", 0.4),
    ("DQ", 2.0),
    ("RQ", 1.2),
    ("DNQ", 0.8),
    ("QW", 1.0),
)
_IMMIGRATION_III = (("QH", 4.0), ("QR", 3.0), ("IQ", 0.5))
_IMMIGRATION_DMV = (("DQ", 3.0), ("DNQ", 2.0), ("RQ", 1.5), ("RNQ", 1.0))
_CCW = (("QH", 3.0), ("QR", 2.0), ("QW", 1.0), ("DQ", 0.5))
_EMPLOYMENT = (("QH", 3.0), ("QR", 2.0))
_PERSONAL = (("DQ", 3.0), ("DNQ", 2.0), ("RQ", 2.0), ("RNQ", 1.0), ("QH", 1.0), ("QW", 0.5))

# Background misuse is rare (domain.md: a tiny fraction of 2.8 million queries a day): the shares of
# personal look-ups and non-criminal-justice checks below are small; the scenarios add the incidents.
_LOCAL_POLICE = TrafficProfile(
    "police",
    6.0,
    0.35,
    0.8,
    (
        IntentMix("routine_patrol", 0.36, _PATROL),
        IntentMix("traffic_enforcement", 0.30, _TRAFFIC),
        IntentMix("criminal_investigation", 0.20, _INVESTIGATION),
        IntentMix("warrant_service", 0.11, _WARRANT),
        IntentMix("no_justification", 0.03, _PATROL),
        IntentMix("employment_check", 0.001, _EMPLOYMENT),
        IntentMix("housing_check", 0.0005, _EMPLOYMENT),
        IntentMix("personal", 0.0002, _PERSONAL),
        IntentMix("personal_disclosed", 0.00002, _PERSONAL),
    ),
)
_SHERIFF = TrafficProfile(
    "sheriff",
    10.0,
    0.35,
    0.8,
    (
        IntentMix("routine_patrol", 0.33, _PATROL),
        IntentMix("traffic_enforcement", 0.18, _TRAFFIC),
        IntentMix("criminal_investigation", 0.25, _INVESTIGATION),
        IntentMix("warrant_service", 0.15, _WARRANT),
        IntentMix("ccw_permit", 0.002, _CCW),
        IntentMix("employment_check", 0.003, _EMPLOYMENT),
        IntentMix("no_justification", 0.035, _PATROL),
        IntentMix("personal", 0.0002, _PERSONAL),
        IntentMix("personal_disclosed", 0.00002, _PERSONAL),
    ),
)
_STATE = TrafficProfile(
    "state",
    7.0,
    0.4,
    0.85,
    (
        IntentMix("traffic_enforcement", 0.55, _TRAFFIC),
        IntentMix("routine_patrol", 0.15, _PATROL),
        IntentMix("criminal_investigation", 0.20, _INVESTIGATION),
        IntentMix("warrant_service", 0.07, _WARRANT),
        IntentMix("no_justification", 0.03, _TRAFFIC),
    ),
)
_PROSECUTOR = TrafficProfile(
    "prosecutor",
    0.8,
    0.03,
    0.15,
    (
        IntentMix("criminal_investigation", 0.85, _PROSECUTION),
        IntentMix("warrant_service", 0.10, _WARRANT),
        IntentMix("no_justification", 0.05, _PROSECUTION),
    ),
)
_PROBATION = TrafficProfile(
    "probation",
    1.2,
    0.05,
    0.2,
    (
        IntentMix("criminal_investigation", 0.80, _SUPERVISION),
        IntentMix("warrant_service", 0.15, _WARRANT),
        IntentMix("no_justification", 0.05, _SUPERVISION),
    ),
)
_COURT = TrafficProfile(
    "court",
    0.4,
    0.02,
    0.05,
    (
        IntentMix("criminal_investigation", 0.85, (("QH", 3.0), ("QR", 2.0), ("QW", 1.5), ("PPQ", 0.5))),
        IntentMix("warrant_service", 0.10, _WARRANT),
        IntentMix("no_justification", 0.05, (("QH", 1.0), ("QW", 1.0))),
    ),
)
_FEDERAL = TrafficProfile(
    "federal",
    0.5,
    0.15,
    0.4,
    (
        IntentMix("criminal_investigation", 0.80, _FEDERAL_CRIMINAL),
        IntentMix("warrant_service", 0.17, _WARRANT),
        IntentMix("no_justification", 0.03, _FEDERAL_CRIMINAL),
    ),
)
_ICE_ERO = TrafficProfile(
    "ICE-ERO",
    0.6,
    0.1,
    0.3,
    (
        IntentMix("immigration_civil", 0.55, _IMMIGRATION_III),
        IntentMix("immigration_civil", 0.20, _IMMIGRATION_DMV),
        IntentMix("immigration_criminal", 0.10, _IMMIGRATION_III + _IMMIGRATION_DMV),
        IntentMix("criminal_investigation", 0.12, _FEDERAL_CRIMINAL),
        IntentMix("no_justification", 0.03, _IMMIGRATION_III),
    ),
)
_ICE_HSI = TrafficProfile(
    "ICE-HSI",
    0.5,
    0.1,
    0.3,
    (
        IntentMix("criminal_investigation", 0.80, _FEDERAL_CRIMINAL),
        IntentMix("immigration_criminal", 0.10, _IMMIGRATION_III),
        IntentMix("immigration_civil", 0.05, _IMMIGRATION_DMV),
        IntentMix("no_justification", 0.05, _FEDERAL_CRIMINAL),
    ),
)
_CBP = TrafficProfile(
    "CBP",
    0.7,
    0.3,
    0.7,
    (
        IntentMix("criminal_investigation", 0.45, _FEDERAL_CRIMINAL),
        IntentMix("traffic_enforcement", 0.15, _TRAFFIC),
        IntentMix("immigration_criminal", 0.20, _IMMIGRATION_III + _IMMIGRATION_DMV),
        IntentMix("immigration_civil", 0.15, _IMMIGRATION_III),
        IntentMix("no_justification", 0.05, _TRAFFIC),
    ),
)
_USCIS = TrafficProfile(
    "USCIS",
    0.15,
    0.02,
    0.05,
    (
        IntentMix("immigration_civil", 0.70, _IMMIGRATION_III),
        IntentMix("criminal_investigation", 0.25, (("QH", 2.0), ("QR", 1.0))),
        IntentMix("no_justification", 0.05, (("QH", 1.0),)),
    ),
)

_BY_KIND: Final[Mapping[str, TrafficProfile]] = MappingProxyType(
    {
        "police": _LOCAL_POLICE,
        "sheriff": _SHERIFF,
        "state": _STATE,
        "prosecutor": _PROSECUTOR,
        "probation": _PROBATION,
        "court": _COURT,
        "federal": _FEDERAL,
    }
)
_BY_COMPONENT: Final[Mapping[str, TrafficProfile]] = MappingProxyType(
    {"ICE-ERO": _ICE_ERO, "ICE-HSI": _ICE_HSI, "CBP": _CBP, "USCIS": _USCIS}
)

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
