"""Synthetic query subjects: people (name, dob, dl_number) and vehicles (plate, vin).

These are the PII the pipeline pseudonymizes. They look real-ish but are obviously synthetic:
- driver licence numbers have the real California shape (a letter and 7 digits) but always start with ``X``;
- VINs are 17 characters but start with ``SIM`` — a VIN never contains ``I``, ``O`` or ``Q``, so no real
  vehicle has one of these;
- plates follow the California ``1ABC234`` pattern with the middle letters drawn from ``X``, ``Y`` and ``Z``.
Everything is drawn from the ``random.Random`` passed in: same seed, same subjects.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Final

FIRST_NAMES: Final = (
    "MARIA",
    "JOSE",
    "JAMES",
    "JENNIFER",
    "MICHAEL",
    "LINDA",
    "DAVID",
    "PATRICIA",
    "JUAN",
    "ELIZABETH",
    "ROBERT",
    "GUADALUPE",
    "DANIEL",
    "SUSAN",
    "CARLOS",
    "KAREN",
    "LUIS",
    "NANCY",
    "JOHN",
    "ANA",
    "KEVIN",
    "MICHELLE",
    "JORGE",
    "LISA",
    "BRIAN",
    "ROSA",
    "TUAN",
    "MAI",
    "WEI",
    "MEI",
    "ANTHONY",
    "STEPHANIE",
    "FRANCISCO",
    "VERONICA",
    "ERIC",
    "ALEJANDRA",
    "MIGUEL",
    "SARAH",
    "THOMAS",
    "ANGELICA",
    "RICARDO",
    "JESSICA",
    "ARMANDO",
    "LAURA",
    "RAJ",
    "PRIYA",
    "DARNELL",
    "KEISHA",
    "HAROUT",
    "ANI",
)
LAST_NAMES: Final = (
    "GARCIA",
    "HERNANDEZ",
    "LOPEZ",
    "MARTINEZ",
    "RODRIGUEZ",
    "GONZALEZ",
    "PEREZ",
    "SANCHEZ",
    "RAMIREZ",
    "TORRES",
    "SMITH",
    "JOHNSON",
    "WILLIAMS",
    "BROWN",
    "JONES",
    "MILLER",
    "DAVIS",
    "WILSON",
    "ANDERSON",
    "TAYLOR",
    "NGUYEN",
    "TRAN",
    "LE",
    "PHAM",
    "KIM",
    "LEE",
    "PARK",
    "CHEN",
    "WANG",
    "LI",
    "FLORES",
    "RIVERA",
    "GOMEZ",
    "DIAZ",
    "REYES",
    "CRUZ",
    "MORALES",
    "ORTIZ",
    "GUTIERREZ",
    "CHAVEZ",
    "THOMAS",
    "JACKSON",
    "WHITE",
    "HARRIS",
    "PATEL",
    "SINGH",
    "SARKISSIAN",
    "PETROSYAN",
    "MURPHY",
    "YAMAMOTO",
)
_DIGITS: Final = "0123456789"
_VIN_CHARS: Final = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # VINs never use I, O, Q
_PLATE_LETTERS: Final = "ABCDEFGHJKLMNPRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class Person:
    name: str  # "LAST, FIRST M"
    dob: str  # ISO date
    dl_number: str


@dataclass(frozen=True, slots=True)
class Vehicle:
    plate: str
    vin: str


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_DIGITS) for _ in range(n))


def make_person(rng: random.Random, *, born_after: int = 1945, born_before: int = 2006) -> Person:
    """A synthetic person: name, date of birth and a California-shaped (``X``-prefixed) licence number."""
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    if rng.random() < 0.15:
        last = f"{last}-{rng.choice(LAST_NAMES)}"
    initial = rng.choice(_PLATE_LETTERS)
    year = rng.randrange(born_after, born_before)
    dob = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))
    return Person(name=f"{last}, {first} {initial}", dob=dob.isoformat(), dl_number=f"X{_digits(rng, 7)}")


def make_vehicle(rng: random.Random) -> Vehicle:
    """A synthetic vehicle: a California-pattern plate (middle letters X/Y/Z) and a ``SIM``-prefixed VIN."""
    plate = f"{rng.randrange(1, 10)}{''.join(rng.choice('XYZ') for _ in range(3))}{_digits(rng, 3)}"
    vin = "SIM" + "".join(rng.choice(_VIN_CHARS) for _ in range(14))
    return Vehicle(plate=plate, vin=vin)


def make_gun_serial(rng: random.Random) -> str:
    return f"SIM{rng.choice(_PLATE_LETTERS)}{_digits(rng, 6)}"


def subject_for(
    rng: random.Random,
    message_type: str,
    data_source: str,
    *,
    person: Person | None = None,
    vehicle: Vehicle | None = None,
) -> dict[str, str]:
    """The ``subject`` object a query of this message key carries.

    Pass ``person``/``vehicle`` to look up a known subject (a raid target, a snooped-on ex-partner);
    otherwise a fresh synthetic one is drawn.
    """
    if data_source == "dmv_registration" and message_type != "RNQ":
        v = vehicle or make_vehicle(rng)
        if message_type == "RPQ":
            return {"plate": v.plate[:4] + "*"}
        return {"plate": v.plate}
    if data_source == "property":
        if message_type == "QV":
            v = vehicle or make_vehicle(rng)
            return {"vin": v.vin} if rng.random() < 0.5 else {"plate": v.plate}
        return {"serial": make_gun_serial(rng)}
    if data_source == "hit_confirmation" and vehicle is not None:
        return {"plate": vehicle.plate}
    p = person or make_person(rng)
    if message_type == "DQ":
        return {"dl_number": p.dl_number, "name": p.name}
    if message_type in ("RNQ", "DNQ", "DQG") and vehicle is not None:
        return {"name": p.name, "dob": p.dob, "plate": vehicle.plate}
    return {"name": p.name, "dob": p.dob}
