"""A labelled query stream for evaluating the classifier (``clets-watch eval``).

Agencies come from the registry; each agency kind (and DHS/DOJ component) has its own mix of intents —
patrol, traffic, investigations, warrants, sheriff CCW checks, employment and housing checks, ERO civil
immigration work, HSI and CBP criminal cases and 1325/1326 cases, snooping, empty reasons. Message keys
follow the intent (domain.md's table); event times span 2018–2020 so POL-2d's date matters. Reasons come
from ``producers.reasons`` and labels from ``producers.truth`` — never from the classifier.

The mix over-weights the rare classes (immigration, CCW, misuse) compared with statewide traffic, so a
stream of tens of thousands of events measures each verdict and purpose with enough support.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from processors.agencies import Agency, AgencyRegistry
from producers.message_keys import DATA_SOURCE_KEYS
from producers.reasons import Intent, make_justification
from producers.truth import PACIFIC, TruthLabel, expected_label
from schemas import QueryEvent

KEYS_BY_SOURCE: Final = DATA_SOURCE_KEYS  # the simulator's one key → data-source table
_KEY_WEIGHTS: Final[dict[str, tuple[float, ...]]] = {
    "criminal_history": (5, 3, 1, 0.5, 0.5),
    "dmv_license": (6, 2, 0.5),
    "dmv_registration": (6, 1.5, 1),
    "wanted_person": (8, 1),
    "property": (5, 2, 1),
    "corrections": (3, 3, 1),
    "hit_confirmation": (1,),
}
_SOURCES_BY_INTENT: Final[dict[str, dict[str, float]]] = {
    "immigration_civil": {
        "criminal_history": 45,
        "dmv_license": 30,
        "dmv_registration": 12,
        "wanted_person": 5,
        "corrections": 5,
        "property": 1,
        "hit_confirmation": 2,
    },
    "immigration_criminal": {
        "criminal_history": 60,
        "dmv_license": 25,
        "wanted_person": 10,
        "corrections": 5,
    },
    "criminal_investigation": {
        "criminal_history": 30,
        "dmv_license": 20,
        "dmv_registration": 15,
        "wanted_person": 15,
        "property": 8,
        "corrections": 8,
        "hit_confirmation": 4,
    },
    "traffic_enforcement": {"dmv_license": 50, "dmv_registration": 40, "wanted_person": 10},
    "warrant_service": {
        "wanted_person": 60,
        "hit_confirmation": 15,
        "dmv_license": 15,
        "criminal_history": 10,
    },
    "routine_patrol": {"dmv_registration": 40, "dmv_license": 30, "wanted_person": 20, "property": 10},
    "ccw_permit": {"criminal_history": 80, "wanted_person": 10, "dmv_license": 10},
    "employment_check": {"criminal_history": 85, "dmv_license": 15},
    "housing_check": {"criminal_history": 90, "dmv_license": 10},
    "personal": {"dmv_license": 45, "dmv_registration": 30, "criminal_history": 20, "wanted_person": 5},
    "personal_disclosed": {
        "dmv_license": 45,
        "dmv_registration": 30,
        "criminal_history": 20,
        "wanted_person": 5,
    },
    "no_justification": {
        "dmv_license": 40,
        "dmv_registration": 30,
        "criminal_history": 25,
        "wanted_person": 5,
    },
}
_MIX_BY_KIND: Final[dict[str, dict[str, float]]] = {
    "police": {
        "routine_patrol": 33,
        "traffic_enforcement": 27,
        "criminal_investigation": 20,
        "warrant_service": 10,
        "immigration_civil": 2,
        "personal": 2,
        "personal_disclosed": 0.3,
        "no_justification": 3,
        "employment_check": 1,
        "housing_check": 0.5,
    },
    "sheriff": {
        "routine_patrol": 25,
        "traffic_enforcement": 12,
        "criminal_investigation": 22,
        "warrant_service": 14,
        "ccw_permit": 8,
        "employment_check": 3,
        "housing_check": 1,
        "immigration_civil": 4,
        "personal": 2,
        "personal_disclosed": 0.3,
        "no_justification": 4,
    },
    "state": {
        "traffic_enforcement": 45,
        "routine_patrol": 12,
        "criminal_investigation": 25,
        "warrant_service": 10,
        "employment_check": 2,
        "personal": 2,
        "no_justification": 3,
        "immigration_civil": 1,
    },
    "prosecutor": {
        "criminal_investigation": 80,
        "warrant_service": 10,
        "no_justification": 4,
        "personal": 2,
        "immigration_civil": 2,
    },
    "probation": {
        "criminal_investigation": 80,
        "warrant_service": 10,
        "no_justification": 5,
        "housing_check": 1,
        "employment_check": 2,
        "personal": 2,
    },
    "court": {
        "criminal_investigation": 80,
        "warrant_service": 10,
        "no_justification": 5,
        "employment_check": 2,
        "personal": 2,
    },
    "federal": {
        "criminal_investigation": 70,
        "warrant_service": 20,
        "employment_check": 3,
        "no_justification": 3,
        "personal": 2,
        "immigration_criminal": 2,
    },
}
_MIX_BY_COMPONENT: Final[dict[str, dict[str, float]]] = {
    "ICE-ERO": {
        "immigration_civil": 70,
        "immigration_criminal": 8,
        "criminal_investigation": 10,
        "no_justification": 6,
        "personal": 4,
        "personal_disclosed": 0.5,
    },
    "ICE-HSI": {
        "criminal_investigation": 75,
        "immigration_criminal": 10,
        "immigration_civil": 7,
        "no_justification": 4,
        "personal": 3,
    },
    "CBP": {
        "criminal_investigation": 40,
        "traffic_enforcement": 10,
        "immigration_criminal": 22,
        "immigration_civil": 18,
        "no_justification": 5,
        "personal": 3,
        "routine_patrol": 2,
    },
    "USCIS": {
        "immigration_civil": 60,
        "criminal_investigation": 25,
        "employment_check": 5,
        "no_justification": 5,
        "personal": 5,
    },
}
# Share of traffic by agency group (DHS over-weighted so immigration verdicts have support).
_GROUP_WEIGHTS: Final = {
    "local": 76.0,
    "federal": 5.0,
    "ICE-ERO": 7.0,
    "ICE-HSI": 4.0,
    "CBP": 6.0,
    "USCIS": 2.0,
}
START: Final = dt.datetime(2018, 1, 1, tzinfo=PACIFIC)
END: Final = dt.datetime(2021, 1, 1, tzinfo=PACIFIC)


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    event: QueryEvent
    intent: str
    label: TruthLabel


def _group(agency: Agency) -> str:
    if agency.component in _MIX_BY_COMPONENT:
        return agency.component
    return "federal" if agency.kind == "federal" else "local"


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def labelled_stream(
    seed: int, count: int, registry: AgencyRegistry | None = None, *, unknown_agency_share: float = 0.01
) -> Iterator[LabelledQuery]:
    """``count`` labelled query events, deterministic for ``seed``."""
    rng = random.Random(seed)
    registry = registry if registry is not None else AgencyRegistry.load()
    groups: dict[str, list[Agency]] = {}
    for member in registry:
        groups.setdefault(_group(member), []).append(member)
    names = [g for g in _GROUP_WEIGHTS if g in groups]
    weights = [_GROUP_WEIGHTS[g] for g in names]
    span = (END - START).total_seconds()
    for i in range(count):
        agency: Agency | None
        if rng.random() < unknown_agency_share:
            agency = None
            ori = "CA" + "".join(rng.choice("0123456789") for _ in range(7))
            mix = _MIX_BY_KIND["police"]
        else:
            members: Sequence[Agency] = groups[rng.choices(names, weights=weights)[0]]
            agency = rng.choice(members)
            ori = agency.ori
            mix = _MIX_BY_COMPONENT.get(agency.component or "") or _MIX_BY_KIND[agency.kind]
        intent: Intent = _pick(rng, mix)  # type: ignore[assignment]
        source = _pick(rng, _SOURCES_BY_INTENT[intent])
        message_type = rng.choices(KEYS_BY_SOURCE[source], weights=_KEY_WEIGHTS[source])[0]
        occurred = (START + dt.timedelta(seconds=rng.random() * span)).astimezone(PACIFIC)
        just = make_justification(rng, intent, agency=agency, message_type=message_type, data_source=source)
        label = expected_label(
            intent,
            agency=agency,
            data_source=source,
            occurred_at=occurred,
            purpose_code=just.purpose_code,
            reason=just.reason,
            case_number=just.case_number,
        )
        event = QueryEvent(
            schema_version=1,
            event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            occurred_at=occurred,
            ori=ori,
            operator_id=f"{ori}-op{rng.randint(1, 60):03d}",
            terminal_id=f"T{rng.randint(1, 40):03d}",
            message_type=message_type,
            purpose_code=just.purpose_code,
            reason=just.reason,
            case_number=just.case_number,
            subject=None,
        )
        yield LabelledQuery(event=event, intent=intent, label=label)
