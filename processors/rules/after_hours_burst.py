"""Rule after_hours_burst: an operator's burst of queries outside the agency's usual hours
(default 06:00-22:00 America/Los_Angeles; per-agency overrides), at least ``min_count`` in one
window. Key = ``ORI:operator``."""

from __future__ import annotations

from dataclasses import dataclass

from processors.rules.base import (
    Finding,
    Rule,
    RuleConfigError,
    RuleSettings,
    WindowView,
    group_by,
    refs,
    zone,
)


@dataclass(frozen=True, slots=True)
class Params:
    timezone: str = "America/Los_Angeles"
    start_hour: int = 6
    end_hour: int = 22
    min_count: int = 5
    agency_hours: tuple[str, ...] = ()  # "ORI START END", e.g. "CA0190000 0 24"


def _check_hours(start: int, end: int, where: str) -> None:
    if not (0 <= start <= 24 and 0 <= end <= 24) or start == end:
        raise RuleConfigError(
            f"rule after_hours_burst: {where}: hours must be in 0..24 and differ, got {start}-{end}"
        )


def within_hours(hour: int, start: int, end: int) -> bool:
    """Is a local hour inside usual hours [start, end)? start > end means hours spanning midnight."""
    if start < end:
        return start <= hour < end
    return hour >= start or hour < end


class AfterHoursBurst(Rule[Params]):
    rule_id = "after_hours_burst"
    Params = Params

    def __init__(self, settings: RuleSettings) -> None:
        super().__init__(settings)
        self._tz = zone(self.rule_id, self.params.timezone)
        _check_hours(self.params.start_hour, self.params.end_hour, "default hours")
        if self.params.min_count < 1:
            raise RuleConfigError("rule after_hours_burst: min_count must be >= 1")
        self._hours: dict[str, tuple[int, int]] = {}
        for entry in self.params.agency_hours:
            parts = str(entry).split()
            if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
                raise RuleConfigError(
                    f"rule after_hours_burst: agency_hours entry {entry!r} is not 'ORI START END'"
                )
            start, end = int(parts[1]), int(parts[2])
            _check_hours(start, end, f"agency_hours {parts[0]}")
            self._hours[parts[0]] = (start, end)

    def hours_for(self, ori: str) -> tuple[int, int]:
        return self._hours.get(ori, (self.params.start_hour, self.params.end_hour))

    def on_window(self, window: WindowView) -> list[Finding]:
        findings = []
        for ori, agency in window.agencies.items():
            start, end = self.hours_for(ori)
            if (start, end) == (0, 24):
                continue
            hours = f"{start:02d}:00-{end:02d}:00 {self.params.timezone}"
            local_hour = [e.occurred_at.astimezone(self._tz).hour for e in agency.events]
            outside = [e for e, h in zip(agency.events, local_hour) if not within_hours(h, start, end)]
            for operator, events in group_by(outside, lambda e: e.operator):
                if len(events) < self.params.min_count:
                    continue
                local = events[0].occurred_at.astimezone(self._tz)
                summary = (
                    f"{ori}: operator {operator} ran {len(events)} queries outside usual hours {hours} "
                    f"(from {local:%H:%M} local)"
                )
                counts = {"after_hours": len(events), "agency_total": len(agency.events)}
                findings.append(window.finding(ori, summary, refs(events), counts, key=f"{ori}:{operator}"))
        return findings
