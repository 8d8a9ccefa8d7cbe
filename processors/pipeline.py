"""The per-event pipeline the Faust worker and ``clets-watch replay`` both run.

raw bytes -> decode (bad input: DeadLetter) -> drop exact duplicates (same id and content; the same id
with other content is processed and dead-lettered ``conflicting_duplicate``) -> classify -> pseudonymize ->
ProcessedEvent -> per-event rules -> event-time windows -> (when the watermark closes windows)
aggregates and window rules -> alerts (deterministic ids, dedup, suppression) -> access
recommendations.

Pure: no Kafka, no database, no clock. Everything that moves is driven by event time, so the
same events in any order within the allowed lateness give the same aggregates and alert ids.
State is bounded by the watermark (open windows, a retention period of closed-window counts for
amendments, seen event ids, suppression memory, rule history) and serialisable
(``snapshot``/``load_snapshot``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import msgspec

from processors.access_decisions import DecisionBook
from processors.agencies import AgencyRegistry
from processors.incidents import AgencyInfo, IncidentPolicy, IncidentTracker
from processors.pseudonymize import Pseudonymizer
from processors.recommendation import (
    ACTIONS,
    AgencyAccess,
    Recommendation,
    RecommendationBook,
    RecommendationPolicy,
)
from processors.rules import Rule, build_rules
from processors.rules.base import AgencyWindow, Finding, WindowView, alert_id, make_evidence
from processors.rules.config import load_rules_config
from processors.rules.query_while_suspended import QueryWhileSuspended
from processors.versioned import decode_versioned
from processors.windows import US_PER_S, Watermark, WindowSpec, WindowStore, rfc3339, to_us
from schemas import (
    AccessDecision,
    Aggregate,
    Alert,
    DeadLetter,
    Incident,
    InvalidEvent,
    ProcessedEvent,
    QueryEvent,
    Verdict,
    decode_event,
    encode_event,
)

SNAPSHOT_FORMAT: Final = 1
RULE_EVICT_SECONDS: Final = 3600
DIGEST_BYTES: Final = 8
NO_JUSTIFICATION_RULE: Final = (
    "POL-1.no-justification"  # the policy's rule id for a query with no justification
)


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """How the pipeline windows and alerts.

    ``hopping_windows``: extra (size, step) windows in seconds whose per-agency aggregates are also
    emitted; the step must be a multiple of ``window_seconds``.
    ``amendment_retention_seconds``: how long (event time, behind the watermark) closed-window counts
    and seen event ids are kept, so late events amend the right counts and duplicates are caught.
    """

    window_seconds: int = 60
    allowed_lateness_seconds: int = 120
    rules_file: Path | None = None
    hopping_windows: tuple[tuple[int, int], ...] = ()
    amendment_retention_seconds: int = 3600
    max_future_skew_seconds: int = 3600

    def __post_init__(self) -> None:
        WindowSpec(self.window_seconds)
        if self.allowed_lateness_seconds < 0:
            raise ValueError(f"allowed lateness must be >= 0, got {self.allowed_lateness_seconds}")
        if self.amendment_retention_seconds < 0:
            raise ValueError(f"amendment retention must be >= 0, got {self.amendment_retention_seconds}")
        for size, step in self.hopping_windows:
            WindowSpec(size, step)
            if step % self.window_seconds:
                raise ValueError(
                    f"hopping window step {step}s must be a multiple of window_seconds {self.window_seconds}"
                )


@dataclass(slots=True)
class Outputs:
    """What processing emits besides verdicts; a step's, a batch's and a replay's outputs add up."""

    dead_letters: list[DeadLetter] = field(default_factory=list)
    aggregates: list[Aggregate] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)

    def extend(self, other: Outputs) -> None:
        self.dead_letters.extend(other.dead_letters)
        self.aggregates.extend(other.aggregates)
        self.alerts.extend(other.alerts)
        self.recommendations.extend(other.recommendations)


@dataclass(slots=True)
class StepResult(Outputs):
    processed: ProcessedEvent | None = None
    duplicate: bool = False
    incidents: list[Incident] = field(default_factory=list)  # incidents that changed (latest record wins)


@dataclass(frozen=True, slots=True)
class PipelineStats:
    events: int = 0
    late: int = 0
    duplicates: int = 0
    conflicting_duplicates: int = 0
    dead_letters: int = 0
    open_windows: int = 0
    aggregates: int = 0
    amendments: int = 0
    alerts: int = 0
    suppressed: int = 0

    def __getitem__(self, name: str) -> int:
        value: int = getattr(self, name)
        return value

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Counts(msgspec.Struct, kw_only=True):
    """Running counts of one agency in one (hopping) window."""

    total: int = 0
    by_verdict: dict[str, int] = {}
    by_purpose: dict[str, int] = {}
    by_data_source: dict[str, int] = {}

    def add(self, event: ProcessedEvent) -> None:
        self.total += 1
        _bump(self.by_verdict, event.verdict)
        _bump(self.by_purpose, event.purpose)
        _bump(self.by_data_source, event.data_source)


class _Snapshot(msgspec.Struct, kw_only=True):
    format: int
    window_seconds: int
    hopping_windows: list[tuple[int, int]]
    max_event_us: int | None
    pane_closed_until: int | None
    panes: list[tuple[int, str, list[ProcessedEvent]]]
    hopping: list[tuple[int | None, list[tuple[int, str, Counts]]]]
    closed: list[tuple[int, Aggregate]]
    seen: list[tuple[str, int]]
    last_fired: list[tuple[str, str, int, str]]
    rule_states: dict[str, bytes]
    access: list[AgencyAccess]
    stats: dict[str, int]
    rules_evicted_at: int | None = None
    seen_digests: list[tuple[str, bytes]] = []
    incidents: bytes = b""


class SnapshotError(ValueError):
    """A snapshot cannot be loaded into this pipeline (corrupt, or made with other windows)."""


def content_digest(event: QueryEvent) -> bytes:
    """A digest of an event's content as decoded (unknown extra fields and JSON layout do not count)."""
    return hashlib.blake2b(encode_event(event), digest_size=DIGEST_BYTES).digest()


def _bump(d: dict[str, int], key: str, n: int = 1) -> None:
    d[key] = d.get(key, 0) + n


def _sorted(d: dict[str, int]) -> dict[str, int]:
    return dict(sorted(d.items()))


def _aggregate(
    ori: str, spec: WindowSpec, start: int, counts: Counts, *, revision: int = 0, late: int = 0
) -> Aggregate:
    """The aggregate of one agency in one window (``revision`` 0 when the window closes, then 1, 2, ...
    for each amendment by ``late`` events)."""
    return Aggregate(
        ori=ori,
        window_kind=spec.kind,
        window_start=rfc3339(start),
        window_end=rfc3339(spec.end(start)),
        total=counts.total,
        by_verdict=_sorted(counts.by_verdict),
        by_purpose=_sorted(counts.by_purpose),
        by_data_source=_sorted(counts.by_data_source),
        revision=revision,
        late=late,
    )


class Pipeline:
    def __init__(
        self,
        classify: Callable[[QueryEvent], Verdict],
        registry: AgencyRegistry,
        pseudonymizer: Pseudonymizer,
        config: PipelineConfig | None = None,
        *,
        rules: list[Rule] | None = None,  # type: ignore[type-arg]
    ) -> None:
        self.config = config or PipelineConfig()
        self._classify = classify
        self._registry = registry
        self._pseudo = pseudonymizer
        rules_config = load_rules_config(self.config.rules_file)
        self.rules: list[Rule] = rules if rules is not None else build_rules(rules_config)  # type: ignore[type-arg]
        self.access = RecommendationBook(RecommendationPolicy.from_mapping(rules_config.recommendation))
        self.incidents = self._incident_tracker(IncidentPolicy.from_mapping(rules_config.incidents))
        self.decisions = (
            DecisionBook()
        )  # supervisors' suspend/restore decisions (processors/access_decisions.py)
        for rule in self.rules:
            if isinstance(rule, QueryWhileSuspended):
                rule.decisions = self.decisions
        self._pane_spec = WindowSpec(self.config.window_seconds)
        self._panes: WindowStore[list[ProcessedEvent]] = WindowStore(self._pane_spec, list)
        self._hopping: list[WindowStore[Counts]] = [
            WindowStore(WindowSpec(size, step), Counts) for size, step in self.config.hopping_windows
        ]
        self._wm = Watermark(self.config.allowed_lateness_seconds)
        # closed-window aggregates kept for amendments: (window kind, start) -> ORI -> latest revision
        self._closed: dict[tuple[str, int], dict[str, Aggregate]] = {}
        self._rules_evicted_at: int | None = None  # hour (event time) of the rules' last eviction
        self._seen: dict[str, int] = {}  # event id -> pane start
        self._seen_by_start: dict[int, list[str]] = {}
        # event id -> the content digests seen under it (DIGEST_BYTES each; more than one: a conflict)
        self._digests: dict[str, bytes] = {}
        self._last_fired: dict[
            tuple[str, str], tuple[int, str]
        ] = {}  # (rule, key) -> (window start, alert id)
        self._stats: dict[str, int] = {
            k: 0 for k in PipelineStats.__dataclass_fields__ if k != "open_windows"
        }

    # ------------------------------------------------------------------ public API

    @property
    def watermark(self) -> dt.datetime | None:
        return self._wm.value

    @property
    def stats(self) -> PipelineStats:
        return PipelineStats(**self._stats, open_windows=len(self._panes))

    def process_raw(
        self, raw: bytes, source: str | None = None, written_at: dt.datetime | None = None
    ) -> StepResult:
        """Decode one message and process it; bad input comes back as a DeadLetter.

        ``written_at`` is when the message was written (the Kafka record timestamp): an event time
        more than ``max_future_skew_seconds`` after it is bad input — one such event would drag the
        watermark ahead and make every honest event after it late.
        """
        try:
            event = decode_event(raw)
            if written_at is not None:
                ahead = (event.occurred_at - written_at).total_seconds()
                if ahead > self.config.max_future_skew_seconds:
                    raise InvalidEvent(
                        "invalid_time",
                        f"occurred_at {event.occurred_at.isoformat()} is {ahead:.0f}s after the message was "
                        f"written ({written_at.isoformat()}); at most {self.config.max_future_skew_seconds}s "
                        "of clock skew is accepted",
                    )
        except InvalidEvent as exc:
            self._stats["dead_letters"] += 1
            payload = raw if isinstance(raw, bytes) else str(raw).encode("utf-8", "surrogatepass")
            return StepResult(
                dead_letters=[
                    DeadLetter(reason=exc.reason, detail=exc.detail, payload=payload, source=source)
                ]
            )
        return self._process(event, source, raw)

    def process(self, event: QueryEvent, source: str | None = None) -> StepResult:
        return self._process(event, source, None)

    def close(self) -> StepResult:
        """End of a bounded input: advance the watermark past every event and close all windows."""
        result = StepResult()
        if self._wm.max_event_us is None:
            return result
        last = self._wm.max_event_us
        pane_limit = (self._pane_spec.starts_for(last)[-1] + self._pane_spec.size_seconds) * US_PER_S
        limits = [pane_limit]
        limits += [(s.spec.starts_for(last)[-1] + s.spec.size_seconds) * US_PER_S for s in self._hopping]
        self._close_windows(result, pane_limit, limits[1:])
        self._wm.observe(max(limits) + self._wm.lateness_us)
        self._evict()
        self._incidents_out(result, self.incidents.advance(self._panes.closed_until) + self.incidents.flush())
        self._apply_restores(result, self._wm.max_event_us)
        return result

    def note_seen(self, event_id: str, pane_start: int, digests: bytes) -> None:
        """For ``replay --workers N``: the stream has seen ``event_id`` before (first in pane ``pane_start``,
        with these content digests, every version's), maybe in another process. A new version of it is
        then the conflicting duplicate one pipeline over the whole stream would see: processed, and
        dead-lettered ``conflicting_duplicate`` with the same detail."""
        if event_id not in self._seen:
            self._seen[event_id] = pane_start
            self._seen_by_start.setdefault(pane_start, []).append(event_id)
        self._digests[event_id] = digests

    def advance_watermark(self, max_event_us: int) -> StepResult:
        """Observe an event time seen in another partition of the same stream, and close what it closes.

        ``clets-watch replay --workers N`` splits one stream by agency over N pipelines; before each of
        its events a pipeline is told the largest accepted event time of the whole stream so far, so its
        watermark, its closed windows (and with them lateness and the amendment retention) are exactly
        those of one pipeline reading the whole stream.
        """
        self._wm.observe(max_event_us)
        wm_us = self._wm.value_us
        result = StepResult()
        if wm_us is None:
            return result
        before = self._panes.closed_until
        if (
            before is not None
            and (wm_us // US_PER_S) // self._pane_spec.step * self._pane_spec.step <= before
        ):
            return result  # nothing to close (hopping steps are multiples of the pane: nor there)
        stores: list[WindowStore[Any]] = [self._panes, *self._hopping]
        for store in stores:
            if store.closed_until is None and not store.open:
                # what the stream's first event set, before this partition had an event of its own
                store.closed_until = (wm_us // US_PER_S) // store.spec.step * store.spec.step
        self._close_windows(result, wm_us, [wm_us] * len(self._hopping))
        if self._panes.closed_until != before:
            self._evict()
        return result

    # ------------------------------------------------------------------ snapshot

    def snapshot(self) -> bytes:
        """All state needed to continue after a restart, as bytes (msgpack)."""
        snap = _Snapshot(
            format=SNAPSHOT_FORMAT,
            window_seconds=self.config.window_seconds,
            hopping_windows=[tuple(h) for h in self.config.hopping_windows],  # type: ignore[misc]
            max_event_us=self._wm.max_event_us,
            pane_closed_until=self._panes.closed_until,
            panes=[
                (s, ori, evs)
                for s, per in sorted(self._panes.open.items())
                for ori, evs in sorted(per.items())
            ],
            hopping=[
                (
                    st.closed_until,
                    [(s, ori, c) for s, per in sorted(st.open.items()) for ori, c in sorted(per.items())],
                )
                for st in self._hopping
            ],
            closed=[
                (start, agg)
                for (_kind, start), per in sorted(self._closed.items())
                for _ori, agg in sorted(per.items())
            ],
            seen=sorted(self._seen.items()),
            last_fired=[(r, k, s, a) for (r, k), (s, a) in sorted(self._last_fired.items())],
            rule_states={r.rule_id: r.state_bytes() for r in self.rules},
            access=self.access.snapshot(),
            stats=dict(self._stats),
            rules_evicted_at=self._rules_evicted_at,
            seen_digests=sorted(self._digests.items()),
            incidents=self.incidents.state_bytes(),
        )
        return msgspec.msgpack.encode(snap)

    def load_snapshot(self, data: bytes) -> None:
        """Replace this pipeline's state with a snapshot's."""
        snap = decode_versioned(data, _Snapshot, SNAPSHOT_FORMAT, "pipeline snapshot", SnapshotError)
        hopping = [tuple(h) for h in self.config.hopping_windows]
        if (
            snap.window_seconds != self.config.window_seconds
            or [tuple(h) for h in snap.hopping_windows] != hopping
        ):
            raise SnapshotError(
                f"snapshot was made with windows {snap.window_seconds}s/{snap.hopping_windows}, "
                f"this pipeline uses {self.config.window_seconds}s/{list(self.config.hopping_windows)}"
            )
        self._wm.max_event_us = snap.max_event_us
        self._panes.closed_until = snap.pane_closed_until
        self._panes.open = {}
        for start, ori, evs in snap.panes:
            self._panes.open.setdefault(start, {})[ori] = list(evs)
        for store, (closed_until, items) in zip(self._hopping, snap.hopping):
            store.closed_until = closed_until
            store.open = {}
            for start, ori, counts in items:
                store.open.setdefault(start, {})[ori] = counts
        self._closed = {}
        for start, agg in snap.closed:
            self._closed.setdefault((agg.window_kind, start), {})[agg.ori] = agg
        self._rules_evicted_at = snap.rules_evicted_at
        self._seen = dict(snap.seen)
        self._seen_by_start = {}
        for event_id, start in snap.seen:
            self._seen_by_start.setdefault(start, []).append(event_id)
        self._digests = dict(snap.seen_digests)
        self._last_fired = {(r, k): (s, a) for r, k, s, a in snap.last_fired}
        for rule in self.rules:
            rule.load_state(snap.rule_states.get(rule.rule_id, b""))
        self.access.load(snap.access)
        try:
            self.incidents.load_state(snap.incidents)
        except ValueError as exc:
            raise SnapshotError(str(exc)) from exc
        self._stats = {k: snap.stats.get(k, 0) for k in self._stats}

    @classmethod
    def restore(
        cls,
        data: bytes,
        classify: Callable[[QueryEvent], Verdict],
        registry: AgencyRegistry,
        pseudonymizer: Pseudonymizer,
        config: PipelineConfig | None = None,
    ) -> Pipeline:
        pipeline = cls(classify, registry, pseudonymizer, config)
        pipeline.load_snapshot(data)
        return pipeline

    # ------------------------------------------------------------------ the step

    def _process(self, event: QueryEvent, source: str | None, raw: bytes | None) -> StepResult:
        ts_us = to_us(event.occurred_at)
        pane_start = self._pane_spec.starts_for(ts_us)[0]
        digest = content_digest(event)
        conflict = None
        if event.event_id in self._seen:
            conflict = self._check_duplicate(event, digest)
            if conflict is None:
                self._stats["duplicates"] += 1
                return StepResult(duplicate=True)
        processed = self._to_processed(event, source)
        self._stats["events"] += 1
        result = StepResult(processed=processed)
        if conflict is not None:
            self._stats["conflicting_duplicates"] += 1
            self._dead_letter(result, "conflicting_duplicate", conflict, event, raw, source)

        retained = not self._beyond_retention(pane_start)
        if retained and conflict is None:
            self._seen[event.event_id] = pane_start
            self._seen_by_start.setdefault(pane_start, []).append(event.event_id)
            self._digests[event.event_id] = digest

        late = self._panes.is_closed(pane_start)
        if late:
            self._stats["late"] += 1
            detail = (
                f"event time {event.occurred_at.isoformat()} is behind the watermark "
                f"{self.watermark.isoformat() if self.watermark else '-'}: its window "
                f"{rfc3339(pane_start)} closed; "
                + (
                    "the window's counts are amended"
                    if retained
                    else "beyond the amendment retention; not counted"
                )
            )
            self._dead_letter(result, "late", detail, event, raw, source)
            if retained:
                self._amend(result, processed, self._pane_spec, [pane_start])
        else:
            self._panes.state(pane_start, processed.ori).append(processed)
        for store in self._hopping:
            open_starts, closed_starts = store.assign(ts_us)
            for start in open_starts:
                store.state(start, processed.ori).add(processed)
            if closed_starts and retained:
                self._amend(result, processed, store.spec, closed_starts)

        pane_end = self._pane_spec.end(pane_start)
        for rule in self.rules:
            for finding in rule.on_event(processed, pane_start, pane_end):
                self._emit(result, rule, finding)

        self._wm.observe(ts_us)
        wm_us = self._wm.value_us
        if wm_us is not None:
            before = self._panes.closed_until
            self._close_windows(result, wm_us, [wm_us] * len(self._hopping))
            if self._panes.closed_until != before:
                self._evict()
                self._incidents_out(result, self.incidents.advance(self._panes.closed_until))
                if self._panes.closed_until is not None:
                    self._apply_restores(result, self._panes.closed_until * US_PER_S)
        return result

    def _dead_letter(
        self,
        result: StepResult,
        reason: str,
        detail: str,
        event: QueryEvent,
        raw: bytes | None,
        source: str | None,
    ) -> None:
        """Dead-letter an event that is processed all the same (late, or a conflicting duplicate), with the
        payload it came as."""
        self._stats["dead_letters"] += 1
        payload = raw if raw is not None else encode_event(event)
        result.dead_letters.append(
            DeadLetter(reason=reason, detail=detail, payload=payload, source=source, event_id=event.event_id)
        )

    def _check_duplicate(self, event: QueryEvent, digest: bytes) -> str | None:
        """An event id seen before: None for an exact duplicate (same content: dropped), else why the
        same id with other content is a conflict (processed as its own query, and dead-lettered)."""
        known = self._digests.get(event.event_id)
        if known is None:  # a snapshot written before digests were kept: the id alone decides
            return None
        for i in range(0, len(known), DIGEST_BYTES):
            if known[i : i + DIGEST_BYTES] == digest:
                return None
        self._digests[event.event_id] = known + digest
        return (
            f"event id {event.event_id!r} was seen before with other content ({len(known) // DIGEST_BYTES} "
            "version(s)); this one is processed as its own query, not dropped as a duplicate"
        )

    def _to_processed(self, event: QueryEvent, source: str | None) -> ProcessedEvent:
        verdict = self._classify(event)
        agency = self._registry.get(event.ori)
        return ProcessedEvent(
            event_id=event.event_id,
            occurred_at=event.occurred_at.astimezone(dt.UTC),
            ori=event.ori,
            component=agency.component if agency else None,
            department=agency.department if agency else None,
            operator=self._pseudo.operator(event.operator_id),
            terminal_id=event.terminal_id,
            message_type=event.message_type,
            data_source=verdict.data_source,
            purpose_code=event.purpose_code,
            # as the policy reads it: a placeholder such as "n/a" is no reason (POL-1 said so)
            has_reason=bool(event.reason.strip()) and NO_JUSTIFICATION_RULE not in verdict.rules,
            has_case_number=bool(event.case_number and event.case_number.strip()),
            subject_key=self._pseudo.subject_key(dict(event.subject) if event.subject else None),
            verdict=verdict.verdict,
            purpose=verdict.purpose,
            rules=tuple(verdict.rules),
            policy_version=verdict.policy_version,
            source=source,
        )

    # ------------------------------------------------------------------ windows

    def _close_windows(self, result: StepResult, pane_limit_us: int, hopping_limits_us: list[int]) -> None:
        def wants_empty(start: int) -> bool:
            return any(rule.wants_empty_window(start) for rule in self.rules)

        for closed in self._panes.close_until(pane_limit_us, include_empty=wants_empty):
            agencies: dict[str, AgencyWindow] = {}
            for ori, events in closed.items.items():
                events.sort(key=lambda e: (e.occurred_at, e.event_id))
                first = events[0]
                agencies[ori] = AgencyWindow(ori, first.component, first.department, tuple(events))
                counts = Counts()
                for e in events:
                    counts.add(e)
                self._emit_aggregate(result, self._pane_spec, closed.start, ori, counts)
            view = WindowView(closed.start, closed.end, agencies)
            for rule in self.rules:
                for finding in rule.on_window(view):
                    self._emit(result, rule, finding)
        for store, limit_us in zip(self._hopping, hopping_limits_us):
            for closed_h in store.close_until(limit_us):
                for ori, counts in closed_h.items.items():
                    self._emit_aggregate(result, store.spec, closed_h.start, ori, counts)

    def _emit_aggregate(
        self, result: StepResult, spec: WindowSpec, start: int, ori: str, counts: Counts
    ) -> None:
        agg = _aggregate(ori, spec, start, counts)
        self._closed.setdefault((spec.kind, start), {})[ori] = agg
        self._stats["aggregates"] += 1
        result.aggregates.append(agg)

    def _amend(self, result: StepResult, event: ProcessedEvent, spec: WindowSpec, starts: list[int]) -> None:
        """A late event: re-emit each closed window it belongs to with corrected counts, revision + 1."""
        for start in starts:
            if self._beyond_retention(start, spec):
                continue
            per = self._closed.setdefault((spec.kind, start), {})
            prev = per.get(event.ori)
            counts = Counts()
            if prev is not None:
                counts = Counts(
                    total=prev.total,
                    by_verdict=dict(prev.by_verdict),
                    by_purpose=dict(prev.by_purpose),
                    by_data_source=dict(prev.by_data_source),
                )
            counts.add(event)
            agg = _aggregate(
                event.ori,
                spec,
                start,
                counts,
                revision=(prev.revision + 1) if prev is not None else 1,
                late=(prev.late + 1) if prev is not None else 1,
            )
            per[event.ori] = agg
            self._stats["amendments"] += 1
            result.aggregates.append(agg)

    def _retention_floor_s(self) -> int | None:
        """Windows ending at or before this (epoch seconds) are past the amendment retention."""
        if self._panes.closed_until is None:
            return None
        return self._panes.closed_until - self.config.amendment_retention_seconds

    def _beyond_retention(self, start: int, spec: WindowSpec | None = None) -> bool:
        floor = self._retention_floor_s()
        return floor is not None and (spec or self._pane_spec).end(start) <= floor

    def _evict(self) -> None:
        floor = self._retention_floor_s()
        if floor is None:
            return
        for window in [k for k in self._closed if k[1] + self._spec_size(k[0]) <= floor]:
            del self._closed[window]
        size = self._pane_spec.size_seconds
        for start in [s for s in self._seen_by_start if s + size <= floor]:
            for event_id in self._seen_by_start.pop(start):
                self._seen.pop(event_id, None)
                self._digests.pop(event_id, None)
        for key, (start, _aid) in list(self._last_fired.items()):
            rule = self._rule(key[0])
            keep = rule.settings.suppress_seconds if rule is not None else 0
            if start + keep + size <= floor:
                del self._last_fired[key]
        wm_s = self._panes.closed_until
        # Rules scan their whole history to evict it: once per hour of event time is enough (their
        # queries select by time range, so what is kept a little longer changes no result).
        if wm_s is not None and wm_s // RULE_EVICT_SECONDS != self._rules_evicted_at:
            self._rules_evicted_at = wm_s // RULE_EVICT_SECONDS
            for rule in self.rules:
                rule.evict(wm_s)

    def _spec_size(self, kind: str) -> int:
        if kind == self._pane_spec.kind:
            return self._pane_spec.size_seconds
        for store in self._hopping:
            if store.spec.kind == kind:
                return store.spec.size_seconds
        return self._pane_spec.size_seconds

    def _rule(self, rule_id: str) -> Rule | None:  # type: ignore[type-arg]
        for rule in self.rules:
            if rule.rule_id == rule_id:
                return rule
        return None

    # ------------------------------------------------------------------ alerts

    def _emit(self, result: StepResult, rule: Rule, finding: Finding) -> None:  # type: ignore[type-arg]
        window_start = rfc3339(finding.window_start)
        aid = alert_id(rule.rule_id, rule.version, finding.key, window_start)
        status: Any = "fired"
        reason: str | None = None
        last = self._last_fired.get((rule.rule_id, finding.key))
        suppress = rule.settings.suppress_seconds
        if last is not None and last[1] != aid and abs(finding.window_start - last[0]) < suppress:
            status = "suppressed"
            reason = (
                f"re-alert within {suppress}s (event time) of alert {last[1]} for window {rfc3339(last[0])}"
            )
            self._stats["suppressed"] += 1
        else:
            self._last_fired[(rule.rule_id, finding.key)] = (finding.window_start, aid)
        agency = self._registry.get(finding.ori)
        alert = Alert(
            alert_id=aid,
            rule=rule.rule_id,
            rule_version=rule.version,
            severity=rule.severity,
            ori=finding.ori,
            key=finding.key,
            window_start=window_start,
            window_end=rfc3339(finding.window_end),
            summary=finding.summary,
            evidence=make_evidence(finding, rule.settings.sample_size),
            component=agency.component if agency else None,
            status=status,
            suppressed_reason=reason,
        )
        self._stats["alerts"] += 1
        rec = self.access.apply(alert)
        if rec is not None:
            result.recommendations.append(rec)
            self.incidents.refresh(alert.ori)
        self._incidents_out(result, self.incidents.add(alert))

    # ------------------------------------------------------------------ access decisions

    def apply_decision(self, decision: AccessDecision) -> bool:
        """A supervisor's suspend/restore (live: read from clets.access-decisions; replay: from the
        database). Suspensions apply by event time; a restore also resets the agency's recommendation
        once the watermark passes it. False when the decision was already known."""
        return self.decisions.add(decision)

    def _apply_restores(self, result: StepResult, until_us: int | None) -> None:
        if until_us is None or not len(self.decisions):
            return
        for t, d in self.decisions.restores_until(until_us):
            state = self.access.get(d.ori)
            if state.level != "normal" and (
                state.since is None or to_us(dt.datetime.fromisoformat(state.since)) <= t
            ):
                result.recommendations.append(
                    self.access.restore(d.ori, by=d.by, reason=d.reason, at=d.effective_at)
                )
                self.incidents.refresh(d.ori)
                result.incidents.extend(self.incidents.take_changed())

    # ------------------------------------------------------------------ incidents (processors/incidents.py)

    def _incident_tracker(self, policy: IncidentPolicy) -> IncidentTracker:
        def agency(ori: str) -> AgencyInfo:
            found = self._registry.get(ori)
            return AgencyInfo(found.name if found else None, found.component if found else None)

        def access(ori: str) -> tuple[str, str]:
            level = self.access.get(ori).level
            return level, ACTIONS[level]

        return IncidentTracker(policy, agency=agency, access=access)

    def _incidents_out(self, result: StepResult, settled: list[Alert]) -> None:
        """Where alerts come out: each with its incident id (some are held until the watermark settles
        them, see processors/incidents.py), and the incidents they changed."""
        result.alerts.extend(settled)
        result.incidents.extend(self.incidents.take_changed())
