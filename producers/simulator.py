"""The CLETS simulator: background traffic plus composable scenarios, in event time, with ground truth.

``generate`` is a generator: it holds only a small jitter buffer and the scenarios' own plans (hundreds to
a few thousand queries), never the background, so it can produce millions of events in constant memory.
Nothing sleeps here — pacing to the wall clock is the Kafka writer's job.

Determinism: every stream (the background, each scenario, the arrival jitter) draws from its own
``random.Random`` derived from the seed, and every query re-seeds a builder RNG from a per-query seed,
so the same seed gives the same events byte for byte, and adding a scenario or silencing an agency
leaves every other event unchanged.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import random
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, ParamSpec

from processors.agencies import Agency, AgencyRegistry
from producers.message_keys import TrafficProfile, data_source, profile_for
from producers.reasons import make_justification
from producers.scenarios import (
    PACIFIC,
    LocalClock,
    Query,
    Roster,
    Scenario,
    ScenarioContext,
    ScenarioError,
    Silence,
    activity,
    parse_scenario,
    scenario_catalogue,
    weekly_mean_activity,
)
from producers.subjects import subject_for
from producers.truth import TruthLabel, expected_label

_P = ParamSpec("_P")

__all__ = [
    "BACKGROUND",
    "MAX_JITTER_SECONDS",
    "LabelledEvent",
    "ScenarioError",
    "Simulation",
    "generate",
    "scenario_catalogue",
]

BACKGROUND: Final = "background"
MAX_JITTER_SECONDS: Final = 120.0  # the pipeline's allowed lateness: arrival disorder must stay within it
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class LabelledEvent:
    """One simulated query: ``event`` is exactly the v1 JSON object the pipeline sees; ``truth`` is its
    ground truth (intent, scenario, expected purpose and verdict, misuse flag) and never enters the event."""

    event: dict[str, Any]
    truth: dict[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.event["event_id"])


@dataclass(frozen=True, slots=True)
class _Mix:
    intents: tuple[str, ...]
    intent_cum: tuple[float, ...]
    keys: tuple[tuple[tuple[str, ...], tuple[float, ...]], ...]

    def pick(self, rng: random.Random) -> tuple[str, str]:
        i = bisect.bisect_right(self.intent_cum, rng.random() * self.intent_cum[-1])
        keys, cum = self.keys[i]
        return self.intents[i], keys[bisect.bisect_right(cum, rng.random() * cum[-1])]


def _cum(weights: Iterable[float]) -> tuple[float, ...]:
    out: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        out.append(total)
    return tuple(out)


@cache
def _mix(profile: TrafficProfile) -> _Mix:
    return _Mix(
        intents=tuple(m.intent for m in profile.mix),
        intent_cum=_cum(m.weight for m in profile.mix),
        keys=tuple((tuple(k for k, _ in m.keys), _cum(w for _, w in m.keys)) for m in profile.mix),
    )


def _background(ctx: ScenarioContext, rate_per_second: float, silences: Sequence[Silence]) -> Iterator[Query]:
    """Every agency's everyday traffic: a Poisson process thinned by each agency kind's daily shape.

    ``rate_per_second`` is the long-run (week) average of events per second of event time.
    """
    staff = ctx.roster.staff
    cum = _cum(s.weight for s in staff)
    total = cum[-1]
    mean_activity = sum(s.weight * weekly_mean_activity(s.profile) for s in staff) / total
    peak_rate = rate_per_second / mean_activity
    rng = random.Random(f"{ctx.seed}:background")
    by_ori: dict[str, list[Silence]] = {}
    for silence in silences:
        by_ori.setdefault(silence.ori, []).append(silence)
    clock = LocalClock()
    t = ctx.start
    while True:
        t += rng.expovariate(peak_rate)
        if t >= ctx.end:
            return
        s = staff[bisect.bisect_right(cum, rng.random() * total)]
        hour, weekday = clock.hour_weekday(t)
        keep = rng.random() < activity(s.profile, hour, weekday)
        seed = rng.getrandbits(64)  # drawn for every candidate, so silencing never shifts other events
        if not keep:
            continue
        operator = s.pick_operator(rng)
        silenced = by_ori.get(s.agency.ori)
        if silenced and any(x.start <= t < x.end for x in silenced):
            continue
        yield Query(
            ts=t,
            agency=s.agency,
            operator=operator,
            message_type="",
            intent="",
            scenario=BACKGROUND,
            subject=None,
            seed=seed,
        )


def _in_order(name: str, plans: Iterable[Query]) -> Iterator[Query]:
    last = float("-inf")
    for q in plans:
        if q.ts < last:
            raise ScenarioError(f"scenario {name} planned its queries out of event-time order")
        last = q.ts
        yield q


def _occurred_at(ts: float) -> dt.datetime:
    return (_EPOCH + dt.timedelta(milliseconds=round(ts * 1000))).astimezone(PACIFIC)


def _truth_fields(label: TruthLabel) -> dict[str, Any]:
    return {
        "purpose": label.purpose,
        "verdict": label.verdict,
        "clauses": list(label.clauses),
        "misuse": label.misuse,
    }


def build(query: Query, rng: random.Random) -> LabelledEvent:
    """Turn a planned query into the v1 event and its ground truth (``rng`` is re-seeded from the query)."""
    rng.seed(query.seed)
    agency: Agency = query.agency
    message_type, intent, subject = query.message_type, query.intent, query.subject
    if not message_type:  # background: key, intent and subject are drawn here, from the query's own seed
        intent, message_type = _mix_for(agency).pick(rng)
    source = data_source(message_type)
    if subject is None:
        subject = subject_for(rng, message_type, source)
    event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    just = make_justification(rng, intent, agency=agency, message_type=message_type, data_source=source)  # type: ignore[arg-type]
    reason = just.reason
    case_number = None if query.drop_case_number else just.case_number
    purpose_code = just.purpose_code
    if query.purpose_code is not None and source == "criminal_history":
        purpose_code = query.purpose_code
    occurred = _occurred_at(query.ts)
    label = expected_label(
        intent,  # type: ignore[arg-type]
        agency=agency,
        data_source=source,
        occurred_at=occurred,
        purpose_code=purpose_code,
        reason=reason,
        case_number=case_number,
    )
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": event_id,
        "occurred_at": occurred.isoformat(timespec="milliseconds"),
        "ori": agency.ori,
        "operator_id": query.operator.operator_id,
        "terminal_id": query.terminal_id or query.operator.terminal_id,
        "message_type": message_type,
        "purpose_code": purpose_code,
        "reason": reason,
        "case_number": case_number,
        "subject": subject,
    }
    truth: dict[str, Any] = {
        "event_id": event_id,
        "scenario": query.scenario,
        "intent": intent,
        "data_source": source,
    }
    truth.update(_truth_fields(label))
    return LabelledEvent(event=event, truth=truth)


_MIX_BY_ORI: dict[str, _Mix] = {}


def _mix_for(agency: Agency) -> _Mix:
    mix = _MIX_BY_ORI.get(agency.ori)
    if mix is None:
        mix = _MIX_BY_ORI[agency.ori] = _mix(profile_for(agency))
    return mix


class Simulation:
    """One configured run: ``events()`` streams the labelled events, ``describe()`` the run's ground truth."""

    def __init__(
        self,
        *,
        seed: int,
        start: dt.datetime,
        duration: dt.timedelta,
        rate_per_second: float,
        scenarios: Sequence[str] | Sequence[Scenario] = (),
        registry: AgencyRegistry | None = None,
        jitter_seconds: float = 5.0,
        background: bool = True,
    ) -> None:
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError(f"start {start.isoformat()} needs a UTC offset (e.g. {start.isoformat()}-08:00)")
        if duration <= dt.timedelta(0):
            raise ValueError(f"duration must be positive, got {duration}")
        if rate_per_second < 0:
            raise ValueError(f"rate_per_second must be >= 0, got {rate_per_second}")
        if not 0.0 <= jitter_seconds <= MAX_JITTER_SECONDS:
            raise ValueError(
                f"jitter_seconds must be within 0..{MAX_JITTER_SECONDS:g} (the allowed lateness), got {jitter_seconds}"
            )
        self.seed = seed
        self.rate_per_second = rate_per_second
        self.jitter_seconds = jitter_seconds
        self.background = background
        self.scenarios: tuple[Scenario, ...] = tuple(parse_scenario(s) for s in scenarios)
        names = [s.name for s in self.scenarios]
        if len(set(names)) != len(names):
            raise ScenarioError(f"each scenario can be added once, got {', '.join(names)}")
        roster = Roster(seed, registry if registry is not None else AgencyRegistry.load())
        begin = start.timestamp()
        self.context = ScenarioContext(
            seed=seed, start=begin, end=begin + duration.total_seconds(), roster=roster
        )

    def describe(self) -> list[dict[str, Any]]:
        return [s.describe(self.context) for s in self.scenarios]

    def events(self) -> Iterator[LabelledEvent]:
        ctx = self.context
        streams: list[Iterator[Query]] = []
        if self.background and self.rate_per_second > 0:
            silences = [x for s in self.scenarios for x in s.silences(ctx)]
            streams.append(_background(ctx, self.rate_per_second, silences))
        streams.extend(_in_order(s.name, s.plan(ctx)) for s in self.scenarios)
        builder = random.Random()
        jitter = random.Random(f"{self.seed}:jitter")
        limit = self.jitter_seconds
        pending: list[tuple[float, int, LabelledEvent]] = []
        n = 0
        for query in heapq.merge(*streams, key=lambda q: q.ts):
            if not ctx.start <= query.ts < ctx.end:
                continue
            labelled = build(query, builder)
            # Arrival = event time + a bounded delay; release what can no longer be overtaken.
            heapq.heappush(pending, (query.ts + jitter.uniform(0.0, limit), n, labelled))
            n += 1
            while pending and pending[0][0] <= query.ts:
                yield heapq.heappop(pending)[2]
        while pending:
            yield heapq.heappop(pending)[2]


def _event_stream(simulation: Callable[_P, Simulation]) -> Callable[_P, Iterator[LabelledEvent]]:
    """A function with ``Simulation``'s own parameters that returns the simulation's ``events()``."""

    def events(*args: _P.args, **kwargs: _P.kwargs) -> Iterator[LabelledEvent]:
        return simulation(*args, **kwargs).events()

    return events


generate = _event_stream(Simulation)
generate.__doc__ = """Labelled query events in arrival order: event-time order disturbed by at most ``jitter_seconds``.

Takes ``Simulation``'s keyword arguments. ``rate_per_second`` is the background's long-run average (events
per second of event time; the business-hours peak is about twice that); scenarios add their own events on
top. Scenario specs are names or ``name:key=value,...`` (see ``producers.scenarios.parse_scenario``).
"""
