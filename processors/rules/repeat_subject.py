"""Rule repeat_subject: one operator looks up the same subject again and again across days with
no case number — the stalking pattern (one officer ran 96 queries on 15 people).

For each (ORI, operator, subject) looked up without a case number the rule remembers the local
days with look-ups (``lookback_days``) and the latest event refs. It alerts when a window adds a
new day and the subject has been looked up on at least ``min_days`` days.
Key = ``ORI:operator:subject`` (pseudonyms only).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from processors.rules.base import (
    EventRef,
    Finding,
    Rule,
    RuleConfigError,
    RuleSettings,
    WindowView,
    group_by,
    zone,
)
from schemas import ProcessedEvent

MAX_REFS = 20


@dataclass(frozen=True, slots=True)
class Params:
    min_days: int = 3
    lookback_days: int = 30
    timezone: str = "America/Los_Angeles"
    max_tracked: int = 200_000


class _Track(msgspec.Struct):
    days: dict[int, int] = {}  # local day ordinal -> look-ups that day
    refs: list[EventRef] = []  # the latest look-ups (bounded)
    last_s: int = 0  # last window start with a look-up


class _State(msgspec.Struct):
    tracks: dict[str, _Track] = {}


class RepeatSubject(Rule[Params]):
    rule_id = "repeat_subject"
    Params = Params

    def __init__(self, settings: RuleSettings) -> None:
        super().__init__(settings)
        self._tz = zone(self.rule_id, self.params.timezone)
        if not 2 <= self.params.min_days <= self.params.lookback_days:
            raise RuleConfigError("rule repeat_subject: need 2 <= min_days <= lookback_days")
        if self.params.max_tracked < 1:
            raise RuleConfigError("rule repeat_subject: max_tracked must be >= 1")
        self._state = _State()

    def _day(self, event: ProcessedEvent) -> int:
        return event.occurred_at.astimezone(self._tz).date().toordinal()

    def on_window(self, window: WindowView) -> list[Finding]:
        findings = []
        tracks = self._state.tracks  # ordered by last update: windows close in event-time order
        for ori, agency in sorted(window.agencies.items()):
            uncased = [e for e in agency.events if e.subject_key is not None and not e.has_case_number]
            for (operator, subject), events in group_by(uncased, lambda e: (e.operator, e.subject_key or "")):
                key = f"{ori}:{operator}:{subject}"
                track = tracks.pop(key, None) or _Track()
                new_day = False
                for e in events:
                    day = self._day(e)
                    new_day = new_day or day not in track.days
                    track.days[day] = track.days.get(day, 0) + 1
                latest = max(track.days)
                track.days = {d: n for d, n in track.days.items() if d > latest - self.params.lookback_days}
                track.refs = sorted(
                    [*track.refs, *(EventRef.of(e) for e in events)], key=lambda r: (r.ts_us, r.event_id)
                )[-MAX_REFS:]
                track.last_s = window.start
                tracks[key] = track  # (re)inserted last: the front holds the least recently used
                if new_day and len(track.days) >= self.params.min_days:
                    lookups = sum(track.days.values())
                    summary = (
                        f"{ori}: operator {operator} looked up the same subject {lookups} times on "
                        f"{len(track.days)} days within {self.params.lookback_days} days, no case number"
                    )
                    counts = {"days": len(track.days), "lookups": lookups}
                    findings.append(
                        window.finding(
                            ori,
                            summary,
                            list(track.refs),
                            counts,
                            key=key,
                            count=lookups,
                            policy_rules=("POL-4",),
                        )
                    )
        while len(tracks) > self.params.max_tracked:  # drop the least recently used pairs
            del tracks[next(iter(tracks))]
        return findings

    def evict(self, watermark_s: int) -> None:
        floor = watermark_s - self.params.lookback_days * 86400
        tracks = self._state.tracks
        while tracks:
            key = next(iter(tracks))
            if tracks[key].last_s >= floor:
                break  # the rest were updated later
            del tracks[key]

    def state_bytes(self) -> bytes:
        return msgspec.msgpack.encode(self._state)

    def load_state(self, data: bytes) -> None:
        self._state = msgspec.msgpack.decode(data, type=_State) if data else _State()
