"""Per-agency access recommendation derived from alerts: normal -> watch -> suspend.

A state machine that only moves up on its own: ``watch_after`` counted alerts (fired, of a
counted severity) move an agency to ``watch``; ``suspend_after`` move it to ``suspend``
("suspend direct access; written requests only"). Every move names the alert ids that caused it.
Only an explicit human action, ``restore_access``, brings an agency back to ``normal``.
Pure: no clock — times come from the alerts (event time) or from the person restoring.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec

from schemas import Alert

AccessLevel = Literal["normal", "watch", "suspend"]
LEVELS: Final[tuple[AccessLevel, ...]] = ("normal", "watch", "suspend")
ACTIONS: Final[dict[str, str]] = {
    "normal": "normal access",
    "watch": "review this agency's queries and alerts",
    "suspend": "suspend direct access; written requests only",
}
MAX_ALERT_IDS: Final = 50  # alert ids kept per agency state (the first ones that moved it)


@dataclass(frozen=True, slots=True)
class RecommendationPolicy:
    counted_severities: tuple[str, ...] = ("critical", "high")
    watch_after: int = 1
    suspend_after: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.watch_after <= self.suspend_after:
            raise ValueError(
                f"need 1 <= watch_after <= suspend_after, got {self.watch_after} and {self.suspend_after}"
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RecommendationPolicy:
        unknown = sorted(set(data) - {"counted_severities", "watch_after", "suspend_after"})
        if unknown:
            raise ValueError(f"recommendation: unknown key(s) {unknown}")
        default = cls()
        return cls(
            counted_severities=tuple(data.get("counted_severities", default.counted_severities)),
            watch_after=int(data.get("watch_after", default.watch_after)),
            suspend_after=int(data.get("suspend_after", default.suspend_after)),
        )


class AgencyAccess(msgspec.Struct, frozen=True, kw_only=True):
    """Where one agency stands. ``alert_ids``: counted alerts since it was last normal (bounded)."""

    ori: str
    level: AccessLevel = "normal"
    counted: int = 0
    alert_ids: tuple[str, ...] = ()
    since: str | None = None  # window_end of the alert (or the time of the human action) that set the level


class Recommendation(msgspec.Struct, frozen=True, kw_only=True):
    """A change of an agency's recommended access level, and why."""

    ori: str
    level: AccessLevel
    previous: AccessLevel
    action: str
    alert_ids: tuple[str, ...]  # the alerts that moved it (empty for a human restore)
    at: str
    by: str = "clets-watch"
    reason: str = ""


def _level_for(count: int, policy: RecommendationPolicy) -> AccessLevel:
    if count >= policy.suspend_after:
        return "suspend"
    if count >= policy.watch_after:
        return "watch"
    return "normal"


def apply_alert(
    state: AgencyAccess | None, alert: Alert, policy: RecommendationPolicy
) -> tuple[AgencyAccess, Recommendation | None]:
    """The agency's state after one alert, and the recommendation if its level went up."""
    state = state or AgencyAccess(ori=alert.ori)
    if (
        alert.status != "fired"
        or alert.severity not in policy.counted_severities
        or alert.alert_id in state.alert_ids
    ):
        return state, None
    counted = state.counted + 1
    ids = state.alert_ids if len(state.alert_ids) >= MAX_ALERT_IDS else (*state.alert_ids, alert.alert_id)
    level = _level_for(counted, policy)
    if LEVELS.index(level) <= LEVELS.index(state.level):
        return msgspec.structs.replace(state, counted=counted, alert_ids=ids), None
    new = AgencyAccess(ori=state.ori, level=level, counted=counted, alert_ids=ids, since=alert.window_end)
    return new, Recommendation(
        ori=state.ori,
        level=level,
        previous=state.level,
        action=ACTIONS[level],
        alert_ids=ids,
        at=alert.window_end,
        reason=f"{counted} alert(s) of severity {'/'.join(policy.counted_severities)}",
    )


def restore_access(
    state: AgencyAccess, *, by: str, reason: str, at: str
) -> tuple[AgencyAccess, Recommendation]:
    """The explicit human action that returns an agency to normal access (and resets its count)."""
    if not by.strip() or not reason.strip():
        raise ValueError("restoring access needs the name of the person and a reason")
    new = AgencyAccess(ori=state.ori, level="normal", since=at)
    return new, Recommendation(
        ori=state.ori,
        level="normal",
        previous=state.level,
        action=ACTIONS["normal"],
        alert_ids=(),
        at=at,
        by=by,
        reason=reason,
    )


class RecommendationBook:
    """The access state of every agency that has had a counted alert."""

    def __init__(self, policy: RecommendationPolicy | None = None) -> None:
        self.policy = policy or RecommendationPolicy()
        self._states: dict[str, AgencyAccess] = {}

    def apply(self, alert: Alert) -> Recommendation | None:
        state, rec = apply_alert(self._states.get(alert.ori), alert, self.policy)
        if state.counted or state.level != "normal":
            self._states[alert.ori] = state
        return rec

    def restore(self, ori: str, *, by: str, reason: str, at: str) -> Recommendation:
        state = self._states.get(ori)
        if state is None or state.level == "normal":
            raise ValueError(f"agency {ori} is not under watch or suspension")
        _, rec = restore_access(state, by=by, reason=reason, at=at)
        del self._states[ori]
        return rec

    def get(self, ori: str) -> AgencyAccess:
        return self._states.get(ori) or AgencyAccess(ori=ori)

    def __iter__(self) -> Iterator[AgencyAccess]:
        return iter(sorted(self._states.values(), key=lambda s: s.ori))

    def snapshot(self) -> list[AgencyAccess]:
        return list(self)

    def load(self, states: list[AgencyAccess]) -> None:
        self._states = {s.ori: s for s in states}
