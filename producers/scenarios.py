"""Who queries and what happens: the agency roster (operators, terminals, traffic weights), the
event-time clock shape, and the composable scenarios layered on the background traffic.

A scenario plans ``Query`` items — who, when, which message key, with what intent — in event-time order.
The simulator (``producers.simulator``) turns each plan into a query event plus its ground truth.
Every scenario draws from its own random stream derived from the run seed, so adding a scenario never
changes the events of another one.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import math
import random
import re
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final
from zoneinfo import ZoneInfo

from processors.agencies import Agency, AgencyRegistry
from producers.message_keys import SIZE_BY_ORI, TrafficProfile, data_source, profile_for
from producers.subjects import Person, Vehicle, make_person, make_vehicle, subject_for

PACIFIC: Final = ZoneInfo("America/Los_Angeles")
DAY: Final = 86400.0

# Share of the weekday peak that is "office" work, by local hour (0 at night, 1 in business hours).
_BUSINESS_BY_HOUR: Final = (
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.15,
    0.45,
    0.8,
    1.0,
    1.0,
    1.0,
    0.85,
    1.0,
    1.0,
    1.0,
    0.85,
    0.55,
    0.35,
    0.25,
    0.18,
    0.12,
    0.06,
    0.03,
)


class ScenarioError(ValueError):
    """A scenario cannot run as configured (unknown name, bad parameter, agency not in the registry)."""


# --------------------------------------------------------------------------------------------- clock


class LocalClock:
    """Local (Pacific) hour and weekday of an epoch time; cached per UTC hour (Pacific offsets are whole hours)."""

    __slots__ = ("_bucket", "_value")

    def __init__(self) -> None:
        self._bucket = -1
        self._value = (0, 0)

    def hour_weekday(self, ts: float) -> tuple[int, int]:
        bucket = int(ts // 3600)
        if bucket != self._bucket:
            local = dt.datetime.fromtimestamp(bucket * 3600, PACIFIC)
            self._bucket = bucket
            self._value = (local.hour, local.weekday())
        return self._value


def activity(profile: TrafficProfile, hour: int, weekday: int) -> float:
    """Relative activity of an agency kind at a local hour (1.0 = weekday business-hours peak)."""
    level = profile.night_floor + (1.0 - profile.night_floor) * _BUSINESS_BY_HOUR[hour]
    return level * profile.weekend_factor if weekday >= 5 else level


def weekly_mean_activity(profile: TrafficProfile) -> float:
    return sum(activity(profile, h, d) for d in range(7) for h in range(24)) / 168.0


def is_business_hours(hour: int, weekday: int) -> bool:
    return weekday < 5 and 8 <= hour < 17


def is_night(hour: int) -> bool:
    return hour >= 22 or hour < 5


# --------------------------------------------------------------------------------------------- roster


@dataclass(frozen=True, slots=True)
class Operator:
    operator_id: str
    terminal_id: str  # the terminal this operator normally uses


@dataclass(frozen=True, slots=True)
class Staff:
    """One agency as the simulator runs it: its profile, traffic weight, operators and terminals."""

    agency: Agency
    profile: TrafficProfile
    weight: float
    operators: tuple[Operator, ...]
    operator_cum_weights: tuple[float, ...]  # busier operators first (Zipf-like)
    terminals: tuple[str, ...]

    def pick_operator(self, rng: random.Random) -> Operator:
        x = rng.random() * self.operator_cum_weights[-1]
        return self.operators[bisect.bisect_right(self.operator_cum_weights, x)]


_STOPWORDS: Final = frozenset({"OF", "THE", "AND", "-", "U.S."})


def agency_abbreviation(agency: Agency) -> str:
    """``Los Angeles County Sheriff's Department`` → ``LACSD``; a DHS component → its component name."""
    if agency.component:
        return re.sub(r"[^A-Z]", "", agency.component.upper())[:6]
    words = [w for w in re.split(r"[\s/]+", agency.name.upper()) if w and w not in _STOPWORDS]
    letters = "".join(w[0] for w in words if w[0].isalpha())
    return (letters or agency.ori[2:5])[:6]


def _operator_id(rng: random.Random, style: int, abbr: str, agency: Agency) -> str:
    if agency.kind == "federal":
        return f"{abbr}{rng.choice(('SA', 'TFO', 'IA', 'DO'))}{rng.randrange(1000, 10000)}"
    if style == 0:
        return f"{abbr}{rng.randrange(10000, 100000)}"
    if style == 1:
        return f"{abbr}-{rng.randrange(100, 10000):04d}"
    if style == 2:
        return f"B{rng.randrange(100000, 1000000)}"
    first = rng.choice("ABCDEFGHJKLMNPRSTW").lower()
    last = re.sub(r"[^A-Z]", "", make_person(rng).name.split(",")[0])[:7].lower()
    return f"{first}{last}{rng.randrange(1, 100):02d}"


def _staff(seed: int, agency: Agency, taken: set[str]) -> Staff:
    rng = random.Random(f"{seed}:roster:{agency.ori}")
    profile = profile_for(agency)
    size = SIZE_BY_ORI.get(agency.ori, 0.6 + 0.8 * rng.random())
    weight = profile.base_weight * size
    n_operators = max(3, min(120, round(weight * 5)))
    abbr = agency_abbreviation(agency)
    style = rng.randrange(4)
    mobile = agency.kind in ("police", "sheriff", "state")
    n_desks = max(1, n_operators // 4)
    desks = tuple(f"{abbr}-WS{i:02d}" for i in range(1, n_desks + 1))
    operators: list[Operator] = []
    terminals: list[str] = list(desks)
    while len(operators) < n_operators:
        op_id = _operator_id(rng, style, abbr, agency)
        if op_id in taken:  # operator ids are unique statewide, not just within the agency
            continue
        taken.add(op_id)
        if mobile and rng.random() < 0.6:
            terminal = f"{abbr}-MDT{rng.randrange(100, 1000)}"
            terminals.append(terminal)
        else:
            terminal = rng.choice(desks)
        operators.append(Operator(op_id, terminal))
    cum: list[float] = []
    total = 0.0
    for i in range(len(operators)):
        total += 1.0 / (i + 1) ** 0.7
        cum.append(total)
    return Staff(agency, profile, weight, tuple(operators), tuple(cum), tuple(dict.fromkeys(terminals)))


class Roster:
    """Every agency's staff, deterministic from the seed."""

    def __init__(self, seed: int, registry: AgencyRegistry) -> None:
        self.registry = registry
        taken: set[str] = set()
        self.staff: tuple[Staff, ...] = tuple(_staff(seed, a, taken) for a in registry)
        if not self.staff:
            raise ScenarioError("the agency registry is empty: the simulator needs at least one agency")
        self._by_ori: dict[str, Staff] = {s.agency.ori: s for s in self.staff}

    def __getitem__(self, ori: str) -> Staff:
        try:
            return self._by_ori[ori]
        except KeyError:
            raise ScenarioError(f"agency {ori} is not in the agency registry") from None

    def find(self, *, kind: str | None = None, component: str | None = None) -> list[Staff]:
        return [
            s
            for s in self.staff
            if (kind is None or s.agency.kind == kind)
            and (component is None or s.agency.component == component)
        ]


# --------------------------------------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class Query:
    """One planned query: the simulator asks the reasons module for its text and the truth module for its label."""

    ts: float  # event time, epoch seconds
    agency: Agency
    operator: Operator
    message_type: str
    intent: str
    scenario: str
    subject: dict[str, str] | None
    seed: int  # per-query seed: the build step draws reason text etc. from it
    purpose_code: str | None = None  # forces this purpose code when set
    drop_case_number: bool = False  # forces "no case number"
    terminal_id: str | None = None  # overrides the operator's usual terminal


@dataclass(frozen=True, slots=True)
class Silence:
    ori: str
    start: float
    end: float


@dataclass(slots=True)
class ScenarioContext:
    seed: int
    start: float
    end: float
    roster: Roster
    clock: LocalClock = field(default_factory=LocalClock)

    @property
    def duration(self) -> float:
        return self.end - self.start

    def rng(self, name: str) -> random.Random:
        return random.Random(f"{self.seed}:scenario:{name}")

    def at(self, when: dt.datetime | None, default_fraction: float) -> float:
        """An aware datetime as epoch seconds, or a default point ``default_fraction`` into the run."""
        if when is None:
            return self.start + self.duration * default_fraction
        if when.tzinfo is None:
            when = when.replace(tzinfo=PACIFIC)
        return when.timestamp()

    def local_time_in_run(self, hour: int, minute: int, *, fits: float = 0.0) -> float | None:
        """The first moment at local ``hour:minute`` in the run with ``fits`` seconds after it still inside."""
        day = dt.datetime.fromtimestamp(self.start, PACIFIC).date()
        while True:
            candidate = dt.datetime.combine(day, dt.time(hour, minute), PACIFIC).timestamp()
            if candidate + fits > self.end:
                return None
            if candidate >= self.start:
                return candidate
            day += dt.timedelta(days=1)

    def describe_time(self, ts: float) -> str:
        return dt.datetime.fromtimestamp(ts, PACIFIC).isoformat(timespec="seconds")


def _weighted(rng: random.Random, options: Sequence[tuple[str, float]]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _times(
    rng: random.Random,
    start: float,
    end: float,
    n: int,
    ctx: ScenarioContext,
    accept: typing.Callable[[int, int], bool],
) -> list[float]:
    """``n`` sorted random times in [start, end) whose local (hour, weekday) passes ``accept``;
    uniform over the interval if too few moments pass."""
    out: list[float] = []
    clock = LocalClock()
    attempts = 0
    while len(out) < n and attempts < 200 * max(n, 1):
        attempts += 1
        t = rng.uniform(start, end)
        if accept(*clock.hour_weekday(t)):
            out.append(t)
    while len(out) < n:
        out.append(rng.uniform(start, end))
    out.sort()
    return out


# --------------------------------------------------------------------------------------------- scenarios


_DAWN_STARTS: Final = ((5, 30), (6, 0), (5, 0), (6, 30), (4, 30), (7, 0))
_NIGHT_STARTS: Final = ((1, 30), (0, 30), (2, 30), (23, 0), (3, 30), (22, 15), (4, 0))


class Scenario:
    """Base class: a named, composable addition to the background, with its own ground truth."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def plan(self, ctx: ScenarioContext) -> Iterator[Query]:
        """Planned queries in event-time order."""
        return iter(())

    def silences(self, ctx: ScenarioContext) -> Sequence[Silence]:
        """Background traffic this scenario removes."""
        return ()

    def describe(self, ctx: ScenarioContext) -> dict[str, Any]:
        """The scenario's run-level ground truth (which agency, when), for the summary and the truth file."""
        return {"scenario": self.name}


def _clip(ctx: ScenarioContext, times: Sequence[float]) -> list[float]:
    return [t for t in times if ctx.start <= t < ctx.end]


def _query_seed(rng: random.Random) -> int:
    return rng.getrandbits(64)


def _first_staff(
    ctx: ScenarioContext,
    rng: random.Random,
    *,
    kind: str | None = None,
    component: str | None = None,
    what: str,
) -> Staff:
    candidates = ctx.roster.find(kind=kind, component=component)
    if not candidates:
        raise ScenarioError(f"no {what} in the agency registry")
    return candidates[0] if component else rng.choice(candidates)


def _burst_window(
    ctx: ScenarioContext, start: dt.datetime | None, minutes: float, local_starts: Sequence[tuple[int, int]]
) -> tuple[float, float]:
    """A burst of ``minutes``: from ``start`` if given, else from the first of the local ``(hour, minute)``
    starts whose burst fits in the run, else from the middle of the run (or its start, when it is shorter)."""
    seconds = minutes * 60.0
    if start is not None:
        begin = ctx.at(start, 0.0)
    elif ctx.duration <= seconds:
        begin = ctx.start
    else:
        found = (ctx.local_time_in_run(h, m, fits=seconds) for h, m in local_starts)
        begin = next((t for t in found if t is not None), ctx.start + (ctx.duration - seconds) / 2)
    return begin, begin + seconds


def _agency_or_sheriff(ctx: ScenarioContext, ori: str | None, rng: random.Random) -> Staff:
    """The agency a scenario names, else a sheriff's office chosen with ``rng``."""
    return ctx.roster[ori] if ori else _first_staff(ctx, rng, kind="sheriff", what="sheriff's office")


def _operator(staff: Staff, rng: random.Random, operator_id: str | None) -> Operator:
    """The operator a scenario names (at the agency's first terminal), else one of the agency's own."""
    if operator_id:
        return Operator(operator_id, staff.operators[0].terminal_id)
    return rng.choice(staff.operators)


def _police_by_size(ctx: ScenarioContext) -> tuple[list[Staff], list[Staff]]:
    """Police departments split into the busier and the smaller half, so that the default agencies of
    ``silent_agency`` (busy) and ``snooping`` (small) never coincide."""
    police = sorted(ctx.roster.find(kind="police"), key=lambda s: (-s.weight, s.agency.ori))
    if not police:
        raise ScenarioError("no police department in the agency registry")
    half = max(1, len(police) // 2)
    return police[:half], police[half:] or police


@dataclass(frozen=True)
class Raid(Scenario):
    """An ICE-ERO / CBP burst of DMV licence, registration and address look-ups (immigration enforcement)."""

    name: ClassVar[str] = "raid"
    summary: ClassVar[str] = (
        "ICE-ERO (with CBP assisting) burst of DMV licence/registration/address look-ups over ~30 min, "
        "immigration-enforcement reasons (detainers, removal, status; some with A-numbers)"
    )
    oris: tuple[str, ...] = ()  # default: the first ICE-ERO and the first CBP office in the registry
    start: dt.datetime | None = None  # default: 05:30 local on the first morning in the run (or near dawn)
    minutes: float = 30.0
    lookups: int = 160
    targets: int = 40
    criminal_history_share: float = 0.1  # III look-ups in the burst (allowed under the federal-law exception)

    def _agencies(self, ctx: ScenarioContext) -> list[Staff]:
        if self.oris:
            return [ctx.roster[o] for o in self.oris]
        rng = ctx.rng(self.name)
        staff = [_first_staff(ctx, rng, component="ICE-ERO", what="ICE-ERO office")]
        cbp = ctx.roster.find(component="CBP")
        if cbp:
            staff.append(cbp[0])
        return staff

    def _window(self, ctx: ScenarioContext) -> tuple[float, float]:
        # raids start at dawn: 05:30 local, else near it, else the middle of the run
        return _burst_window(ctx, self.start, self.minutes, _DAWN_STARTS)

    def plan(self, ctx: ScenarioContext) -> Iterator[Query]:
        rng = ctx.rng(self.name)
        agencies = self._agencies(ctx)
        begin, end = self._window(ctx)
        targets: list[tuple[Person, Vehicle]] = [
            (make_person(rng), make_vehicle(rng)) for _ in range(self.targets)
        ]
        # A field team: a few operators per agency, the lead agency (first) running most look-ups.
        teams = [(s, [s.pick_operator(rng) for _ in range(rng.randint(2, 5))]) for s in agencies]
        agency_weights = [3.0] + [1.0] * (len(teams) - 1)
        dmv = (("DQ", 3.0), ("DNQ", 2.5), ("RQ", 1.5), ("RNQ", 1.5))
        iii = (("QH", 3.0), ("QR", 1.0))
        for ts in _clip(ctx, _times(rng, begin, end, self.lookups, ctx, lambda h, d: True)):
            staff, operators = rng.choices(teams, weights=agency_weights)[0]
            person, vehicle = rng.choice(targets)
            keys = iii if rng.random() < self.criminal_history_share else dmv
            mt = _weighted(rng, keys)
            intent = "immigration_civil" if rng.random() < 0.85 else "immigration_criminal"
            yield Query(
                ts=ts,
                agency=staff.agency,
                operator=rng.choice(operators),
                message_type=mt,
                intent=intent,
                scenario=self.name,
                subject=subject_for(rng, mt, data_source(mt), person=person, vehicle=vehicle),
                seed=_query_seed(rng),
            )

    def describe(self, ctx: ScenarioContext) -> dict[str, Any]:
        begin, end = self._window(ctx)
        return {
            "scenario": self.name,
            "oris": [s.agency.ori for s in self._agencies(ctx)],
            "start": ctx.describe_time(begin),
            "end": ctx.describe_time(end),
        }


@dataclass(frozen=True)
class Snooping(Scenario):
    """One local operator repeatedly looks up a few people across days: no case numbers, innocent reasons."""

    name: ClassVar[str] = "snooping"
    summary: ClassVar[str] = (
        "one operator of a local agency repeatedly looks up a few people (ex-partner, dates) across days, "
        "no case numbers, innocent-looking reasons"
    )
    ori: str | None = None  # default: one of the smaller police departments, chosen from the seed
    operator_id: str | None = None  # default: one of that agency's operators
    people: int = 3
    lookups: int = 40

    def _who(self, ctx: ScenarioContext) -> tuple[Staff, Operator]:
        rng = ctx.rng(self.name + ":who")
        staff = ctx.roster[self.ori] if self.ori else rng.choice(_police_by_size(ctx)[1])
        return staff, _operator(staff, rng, self.operator_id)

    def plan(self, ctx: ScenarioContext) -> Iterator[Query]:
        rng = ctx.rng(self.name)
        staff, operator = self._who(ctx)
        people = [(make_person(rng), make_vehicle(rng)) for _ in range(self.people)]
        obsession = [1.0 / (i + 1) for i in range(len(people))]  # one person looked up far more than the rest
        keys = (("DQ", 3.0), ("DNQ", 2.0), ("RQ", 1.5), ("RNQ", 1.5), ("QH", 1.0), ("QW", 1.0))
        times = _times(rng, ctx.start, ctx.end, self.lookups, ctx, lambda h, d: 7 <= h < 23)
        for ts in times:
            person, vehicle = rng.choices(people, weights=obsession)[0]
            mt = _weighted(rng, keys)
            yield Query(
                ts=ts,
                agency=staff.agency,
                operator=operator,
                message_type=mt,
                intent="personal",
                scenario=self.name,
                subject=subject_for(rng, mt, data_source(mt), person=person, vehicle=vehicle),
                seed=_query_seed(rng),
                drop_case_number=True,
            )

    def describe(self, ctx: ScenarioContext) -> dict[str, Any]:
        staff, operator = self._who(ctx)
        return {
            "scenario": self.name,
            "ori": staff.agency.ori,
            "operator_id": operator.operator_id,
            "people": self.people,
        }


@dataclass(frozen=True)
class SilentAgency(Scenario):
    """An agency that normally queries goes silent (a broken feed, or an agency routing around the watch)."""

    name: ClassVar[str] = "silent_agency"
    summary: ClassVar[str] = "an agency that normally queries stops (no events from it after a point in time)"
    ori: str | None = None  # default: one of the busier police departments, chosen from the seed
    start: dt.datetime | None = None  # default: a third of the way into the run
    end: dt.datetime | None = None  # default: the end of the run

    def _silence(self, ctx: ScenarioContext) -> Silence:
        if self.ori:
            staff = ctx.roster[self.ori]
        else:
            staff = ctx.rng(self.name).choice(_police_by_size(ctx)[0])
        begin = ctx.at(self.start, 1.0 / 3.0)
        end = ctx.at(self.end, 1.0) if self.end is not None else math.inf
        return Silence(staff.agency.ori, begin, end)

    def silences(self, ctx: ScenarioContext) -> Sequence[Silence]:
        return (self._silence(ctx),)

    def describe(self, ctx: ScenarioContext) -> dict[str, Any]:
        s = self._silence(ctx)
        return {
            "scenario": self.name,
            "ori": s.ori,
            "start": ctx.describe_time(s.start),
            "end": ctx.describe_time(s.end) if math.isfinite(s.end) else None,
        }


@dataclass(frozen=True)
class Ccw(Scenario):
    """A sheriff's office runs concealed-carry permit checks through CLETS under purpose code C (POL-3)."""

    name: ClassVar[str] = "ccw"
    summary: ClassVar[str] = (
        "a sheriff's office runs CCW permit background checks under purpose code C, office hours"
    )
    ori: str | None = None  # default: a sheriff's office chosen from the seed
    checks: int | None = None  # default: 30 applicants a day of run time, at least 20
    purpose_code: str = "C"

    def _staff(self, ctx: ScenarioContext) -> Staff:
        return _agency_or_sheriff(ctx, self.ori, ctx.rng(self.name + ":who"))

    def plan(self, ctx: ScenarioContext) -> Iterator[Query]:
        rng = ctx.rng(self.name)
        staff = self._staff(ctx)
        clerks = [staff.pick_operator(rng) for _ in range(2)]
        n = self.checks if self.checks is not None else max(20, round(30 * ctx.duration / DAY))
        # Each applicant: a III name search, often a record request and a wanted-person check, minutes apart.
        plans: list[Query] = []
        for ts in _times(rng, ctx.start, ctx.end, n, ctx, is_business_hours):
            person = make_person(rng, born_before=2003)
            clerk = rng.choice(clerks)
            steps = ["QH"] + (["QR"] if rng.random() < 0.6 else []) + (["QW"] if rng.random() < 0.4 else [])
            for i, mt in enumerate(steps):
                plans.append(
                    Query(
                        ts=ts + i * rng.uniform(20, 180),
                        agency=staff.agency,
                        operator=clerk,
                        message_type=mt,
                        intent="ccw_permit",
                        scenario=self.name,
                        subject=subject_for(rng, mt, data_source(mt), person=person),
                        seed=_query_seed(rng),
                        purpose_code=self.purpose_code,
                    )
                )
        plans.sort(key=lambda q: q.ts)
        yield from (q for q in plans if q.ts < ctx.end)

    def describe(self, ctx: ScenarioContext) -> dict[str, Any]:
        return {"scenario": self.name, "ori": self._staff(ctx).agency.ori, "purpose_code": self.purpose_code}


@dataclass(frozen=True)
class AfterHours(Scenario):
    """One operator's burst of look-ups in the middle of the night."""

    name: ClassVar[str] = "after_hours"
    summary: ClassVar[str] = (
        "one operator's burst of personal / unjustified look-ups in the middle of the night"
    )
    ori: str | None = None  # default: a sheriff's office chosen from the seed
    operator_id: str | None = None
    start: dt.datetime | None = (
        None  # default: 01:30 local on the first night in the run, else another night hour
    )
    minutes: float = 40.0
    lookups: int = 30

    def _who(self, ctx: ScenarioContext) -> tuple[Staff, Operator]:
        rng = ctx.rng(self.name + ":who")
        staff = _agency_or_sheriff(ctx, self.ori, rng)
        return staff, _operator(staff, rng, self.operator_id)

    def _window(self, ctx: ScenarioContext) -> tuple[float, float]:
        # 01:30 local, else another night hour, else (a run with no night in it) the middle of the run
        return _burst_window(ctx, self.start, self.minutes, _NIGHT_STARTS)

    def plan(self, ctx: ScenarioContext) -> Iterator[Query]:
        rng = ctx.rng(self.name)
        staff, operator = self._who(ctx)
        begin, end = self._window(ctx)
        keys = (("DQ", 3.0), ("DNQ", 2.0), ("RQ", 2.0), ("RNQ", 1.0), ("QH", 1.5), ("QW", 0.5))
        people = [(make_person(rng), make_vehicle(rng)) for _ in range(max(1, self.lookups // 4))]
        for ts in _clip(ctx, _times(rng, begin, end, self.lookups, ctx, lambda h, d: True)):
            person, vehicle = rng.choice(people)
            mt = _weighted(rng, keys)
            intent = "personal" if rng.random() < 0.7 else "no_justification"
            yield Query(
                ts=ts,
                agency=staff.agency,
                operator=operator,
                message_type=mt,
                intent=intent,
                scenario=self.name,
                subject=subject_for(rng, mt, data_source(mt), person=person, vehicle=vehicle),
                seed=_query_seed(rng),
                drop_case_number=True,
            )

    def describe(self, ctx: ScenarioContext) -> dict[str, Any]:
        staff, operator = self._who(ctx)
        begin, end = self._window(ctx)
        return {
            "scenario": self.name,
            "ori": staff.agency.ori,
            "operator_id": operator.operator_id,
            "start": ctx.describe_time(begin),
            "end": ctx.describe_time(end),
        }


SCENARIOS: Final[Mapping[str, type[Scenario]]] = {
    cls.name: cls for cls in (Raid, Snooping, SilentAgency, Ccw, AfterHours)
}
BACKGROUND_SUMMARY: Final = (
    "always on: every registry agency's everyday traffic, weighted by size, business-hours diurnal shape "
    "with a steady night floor, per-kind message-key and intent mix"
)


def scenario_catalogue() -> list[tuple[str, str]]:
    """(name, one-line description) of the background and every scenario."""
    return [("background", BACKGROUND_SUMMARY)] + [(name, cls.summary) for name, cls in SCENARIOS.items()]


def _convert(value: str, annotation: Any, *, what: str) -> Any:
    """Turn a ``key=value`` string into the scenario field's type."""
    origin = typing.get_origin(annotation)
    if origin is tuple:
        return tuple(v for v in re.split(r"[+;\s]+", value) if v)
    if origin in (typing.Union, types.UnionType):
        target = next(a for a in typing.get_args(annotation) if a is not type(None))
    else:
        target = annotation
    if target is dt.datetime:
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            raise ScenarioError(f"{what}: {value!r} is not an ISO 8601 date-time") from None
    if target in (int, float):
        try:
            return target(value)
        except ValueError:
            raise ScenarioError(f"{what}: {value!r} is not a number") from None
    return value


def parse_scenario(spec: str | Scenario) -> Scenario:
    """``raid`` or ``raid:ori=CAICE0100,start=2019-03-05T05:30-08:00,minutes=45`` → a ``Scenario``.

    Tuple fields take ``+``-separated values: ``raid:oris=CAICE0100+CACBP0100``.
    """
    if isinstance(spec, Scenario):
        return spec
    name, _, params = spec.partition(":")
    name = name.strip().replace("-", "_")
    if name == "background":
        raise ScenarioError("the background traffic is always on; it is not a scenario to add")
    cls = SCENARIOS.get(name)
    if cls is None:
        raise ScenarioError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]  # every scenario is a dataclass
    kwargs: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in params.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in fields:
            raise ScenarioError(
                f"scenario {name}: bad parameter {item!r}; parameters are {', '.join(sorted(fields))} (as key=value)"
            )
        kwargs[key] = _convert(value.strip(), hints[key], what=f"scenario {name} parameter {key}")
    return cls(**kwargs)
