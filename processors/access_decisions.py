"""Supervisors' access decisions (suspend / restore an agency's direct access) as the pipeline sees them.

A decision is in force from its ``effective_at`` (event time) until the agency's next decision, so a
replay asks what was in force at each event's time and the live worker (which hears decisions as they
are made) gives the same answer for events after the decision. Pure: no Kafka, no database.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator

from processors.windows import US_PER_S
from schemas import AccessDecision


def effective_text(when: dt.datetime) -> str:
    """A decision's effective time as RFC 3339 UTC with microseconds (two decisions in one second keep their order)."""
    if when.tzinfo is None:
        raise ValueError(f"effective time {when!r} has no UTC offset")
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def decision_id(ori: str, action: str, effective_at: str, by: str) -> str:
    """Deterministic id of a decision: sha256 of ``ori:action:effective_at:by``, 32 hex characters."""
    return hashlib.sha256(f"access:{ori}:{action}:{effective_at}:{by}".encode()).hexdigest()[:32]


def effective_us(decision: AccessDecision) -> int:
    try:
        when = dt.datetime.fromisoformat(decision.effective_at)
    except ValueError as exc:
        raise ValueError(
            f"access decision {decision.decision_id}: effective_at {decision.effective_at!r}: {exc}"
        ) from exc
    if when.tzinfo is None:
        raise ValueError(
            f"access decision {decision.decision_id}: effective_at {decision.effective_at!r} has no offset"
        )
    return int(when.timestamp()) * US_PER_S + when.microsecond


class DecisionBook:
    """Every agency's decisions, ordered by effective time."""

    def __init__(self, decisions: Iterable[AccessDecision] = ()) -> None:
        self._by_ori: dict[str, list[tuple[int, str, AccessDecision]]] = {}
        for d in decisions:
            self.add(d)

    def add(self, decision: AccessDecision) -> bool:
        """Add a decision; False if it was already known (a re-read topic or table adds nothing)."""
        items = self._by_ori.setdefault(decision.ori, [])
        entry = (effective_us(decision), decision.decision_id, decision)
        if any(e[1] == decision.decision_id for e in items):
            return False
        bisect.insort(items, entry, key=lambda e: (e[0], e[1]))
        return True

    def in_force(self, ori: str, ts_us: int) -> AccessDecision | None:
        """The agency's decision in force at ``ts_us`` (None: no decision yet)."""
        items = self._by_ori.get(ori)
        if not items:
            return None
        i = bisect.bisect_right(items, ts_us, key=lambda e: e[0])
        return items[i - 1][2] if i else None

    def suspended_at(self, ori: str, ts_us: int) -> AccessDecision | None:
        """The suspension in force at ``ts_us``, if any."""
        d = self.in_force(ori, ts_us)
        return d if d is not None and d.action == "suspend" else None

    def restores_until(self, until_us: int) -> Iterator[tuple[int, AccessDecision]]:
        """Each agency's latest restore effective at or before ``until_us``."""
        for items in self._by_ori.values():
            latest = None
            for t, _id, d in items:
                if t > until_us:
                    break
                if d.action == "restore":
                    latest = (t, d)
            if latest is not None:
                yield latest

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_ori.values())

    def __iter__(self) -> Iterator[AccessDecision]:
        for _ori, items in sorted(self._by_ori.items()):
            for _t, _id, d in items:
                yield d
