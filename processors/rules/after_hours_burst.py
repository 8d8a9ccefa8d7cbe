"""Rule after_hours_burst: an operator's burst of queries outside the agency's usual hours
(default 06:00-22:00 America/Los_Angeles; per-agency overrides), at least ``min_count`` in one
window. Key = ``ORI:operator``."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from processors.rules.base import Finding, Rule, RuleConfigError, RuleSettings, WindowView, refs
from schemas import ProcessedEvent


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
        try:
            self._tz = ZoneInfo(self.params.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise RuleConfigError(
                f"rule after_hours_burst: unknown timezone {self.params.timezone!r}"
            ) from exc
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
            by_operator: dict[str, list[ProcessedEvent]] = defaultdict(list)
            for e in agency.events:
                if not within_hours(e.occurred_at.astimezone(self._tz).hour, start, end):
                    by_operator[e.operator].append(e)
            for operator, events in sorted(by_operator.items()):
                if len(events) < self.params.min_count:
                    continue
                local = events[0].occurred_at.astimezone(self._tz)
                findings.append(
                    Finding(
                        key=f"{ori}:{operator}",
                        ori=ori,
                        window_start=window.start,
                        window_end=window.end,
                        summary=(
                            f"{ori}: operator {operator} ran {len(events)} queries outside usual hours "
                            f"{start:02d}:00-{end:02d}:00 {self.params.timezone} (from {local:%H:%M} local)"
                        ),
                        events=refs(events),
                        count=len(events),
                        counts={"after_hours": len(events), "agency_total": len(agency.events)},
                    )
                )
        return findings
