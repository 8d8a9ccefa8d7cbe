"""What every alert rule shares: settings, the window view rules read, findings, evidence and ids.

A rule is a small class with two pure entry points:

* ``on_event(event, window)`` — per-event rules (fire at once, e.g. a prohibited query);
* ``on_window(window)`` — window rules, called once per closed tumbling window, oldest first, with
  the events of every agency that queried in it.

Rules that compare a window with history (baselines, terms seen, days a subject was looked up)
keep that history themselves, bounded by event time (``evict``), and serialise it
(``state_bytes``/``load_state``) so the worker can restart without losing it.
The pipeline turns findings into ``Alert`` records (ids, evidence, dedup and suppression).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from schemas import Evidence, ProcessedEvent
from schemas.outputs import Severity

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

SEVERITIES: tuple[str, ...] = ("critical", "high", "warning", "info")
P = TypeVar("P")
K = TypeVar("K", bound="SupportsRichComparison")


class RuleConfigError(ValueError):
    """A rule's configuration is wrong; the message names the rule and the parameter."""


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """One rule's entry in rules.yaml, validated."""

    rule_id: str
    version: int
    severity: Severity
    enabled: bool = True
    suppress_seconds: int = 3600
    sample_size: int = 20
    params: Mapping[str, Any] = field(default_factory=dict)


class EventRef(msgspec.Struct, frozen=True, array_like=True):
    """A compact pointer to one event, kept by rules that remember events across windows."""

    event_id: str
    ts_us: int
    source: str | None = None

    @classmethod
    def of(cls, event: ProcessedEvent) -> EventRef:
        from processors.windows import to_us

        return cls(event.event_id, to_us(event.occurred_at), event.source)


@dataclass(frozen=True, slots=True)
class AgencyWindow:
    """The events one agency (ORI) made in one closed window, sorted by (event time, event id)."""

    ori: str
    component: str | None
    department: str | None
    events: tuple[ProcessedEvent, ...]


@dataclass(frozen=True, slots=True)
class WindowView:
    """One closed tumbling window: bounds (epoch seconds) and the agencies that queried in it."""

    start: int
    end: int
    agencies: Mapping[str, AgencyWindow]  # ORI -> its events; ORIs in sorted order

    def finding(
        self,
        ori: str,
        summary: str,
        events: Sequence[EventRef],
        counts: Mapping[str, float],
        *,
        key: str | None = None,
        count: int | None = None,
        policy_rules: tuple[str, ...] = (),
    ) -> Finding:
        """A finding about agency ``ori`` in this window: the key defaults to the ORI, the count to the
        number of ``events``."""
        return Finding(
            key=ori if key is None else key,
            ori=ori,
            window_start=self.start,
            window_end=self.end,
            summary=summary,
            events=events,
            count=len(events) if count is None else count,
            counts=counts,
            policy_rules=policy_rules,
        )


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule's decision to alert. ``events`` are all matching events (the pipeline samples them)."""

    key: str
    ori: str
    window_start: int
    window_end: int
    summary: str
    events: Sequence[EventRef]
    count: int
    counts: Mapping[str, float] = field(default_factory=dict)
    policy_rules: tuple[str, ...] = ()

    @classmethod
    def of_event(
        cls, event: ProcessedEvent, window_start: int, window_end: int, summary: str, counted: str
    ) -> Finding:
        """A per-event rule's finding: keyed by the event id, counting one ``counted``, naming the
        verdict's policy clauses."""
        return cls(
            key=event.event_id,
            ori=event.ori,
            window_start=window_start,
            window_end=window_end,
            summary=summary,
            events=[EventRef.of(event)],
            count=1,
            counts={counted: 1},
            policy_rules=event.rules,
        )


@dataclass(frozen=True, slots=True)
class NoParams:
    """The parameters of a rule that takes none."""


class Rule(Generic[P]):
    """Base class: holds settings and parsed parameters; subclasses override the hooks they need."""

    rule_id: ClassVar[str]
    Params: ClassVar[type[Any]]

    def __init__(self, settings: RuleSettings) -> None:
        if settings.rule_id != self.rule_id:
            raise RuleConfigError(f"settings for {settings.rule_id!r} given to rule {self.rule_id!r}")
        self.settings = settings
        self.params: P = parse_params(self.Params, settings.params, self.rule_id)

    @property
    def version(self) -> int:
        return self.settings.version

    @property
    def severity(self) -> Severity:
        return self.settings.severity

    def on_event(self, event: ProcessedEvent, window_start: int, window_end: int) -> list[Finding]:
        return []

    def on_window(self, window: WindowView) -> list[Finding]:
        return []

    def wants_empty_window(self, start: int) -> bool:
        """True while the rule needs to see windows in which nobody queried (silence detection)."""
        return False

    def evict(self, watermark_s: int) -> None:
        """Drop history older than the rule's horizon (event time)."""

    def state_bytes(self) -> bytes:
        return b""

    def load_state(self, data: bytes) -> None:
        if data:
            raise ValueError(f"rule {self.rule_id} keeps no state but a snapshot holds some")


def at_least(params: object, floor: int, *names: str) -> None:
    """Refuse a parameter below ``floor``, naming it and its value (for a Params' ``__post_init__``)."""
    for name in names:
        value = getattr(params, name)
        if value < floor:
            raise ValueError(f"{name} must be >= {floor}, got {value}")


def parse_params(cls: type[P], given: Mapping[str, Any], rule_id: str) -> P:
    """Build a rule's frozen Params dataclass from YAML values, rejecting unknown names and wrong types."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(given) - set(fields))
    if unknown:
        raise RuleConfigError(f"rule {rule_id}: unknown parameter(s) {unknown}; known: {sorted(fields)}")
    values: dict[str, Any] = {}
    for name, value in given.items():
        default = fields[name].default
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            value = float(value) if ok else value
        elif isinstance(default, str):
            ok = isinstance(value, str)
        elif isinstance(default, tuple):
            ok = isinstance(value, (list, tuple))
            value = tuple(value) if ok else value
        else:
            ok = True
        if not ok:
            raise RuleConfigError(
                f"rule {rule_id}: parameter {name} must be {type(default).__name__}, got {value!r}"
            )
        values[name] = value
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise RuleConfigError(f"rule {rule_id}: {exc}") from exc


def alert_id(rule_id: str, version: int, key: str, window_start: str) -> str:
    """Deterministic alert id: sha256 of ``rule:version:key:window_start``, 32 hex characters."""
    return hashlib.sha256(f"{rule_id}:{version}:{key}:{window_start}".encode()).hexdigest()[:32]


def make_evidence(finding: Finding, sample_size: int) -> Evidence:
    """Counts, a bounded sample of event ids (earliest first), and the source offsets of the sample."""
    refs = sorted({r.event_id: r for r in finding.events}.values(), key=lambda r: (r.ts_us, r.event_id))
    sample = refs[:sample_size]
    return Evidence(
        count=finding.count,
        event_ids=tuple(r.event_id for r in sample),
        counts={k: float(v) for k, v in sorted(finding.counts.items())},
        offsets=tuple(r.source for r in sample if r.source is not None),
        policy_rules=tuple(sorted(set(finding.policy_rules))),
    )


def refs(events: Iterable[ProcessedEvent]) -> list[EventRef]:
    return [EventRef.of(e) for e in events]


def group_by(
    events: Iterable[ProcessedEvent], key: Callable[[ProcessedEvent], K]
) -> list[tuple[K, list[ProcessedEvent]]]:
    """The events grouped by ``key`` (each group in the events' order), groups in key order."""
    groups: dict[K, list[ProcessedEvent]] = {}
    for e in events:
        groups.setdefault(key(e), []).append(e)
    return sorted(groups.items(), key=lambda kv: kv[0])


def zone(rule_id: str, name: str) -> ZoneInfo:
    """A rule's ``timezone`` parameter; an unknown name is a configuration error naming the rule."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RuleConfigError(f"rule {rule_id}: unknown timezone {name!r}") from exc
