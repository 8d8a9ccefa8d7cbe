"""Shared by the policy tests: the bundled policy and one classifier, a query-event builder, and tables of
reasons that must all read the same way (``Reads``), run by one parametrized test a file with a case per
reason, named ``<what the group shows>-<reason>``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import pytest
from _pytest.mark import ParameterSet

from processors.agencies import AgencyRegistry
from processors.policy import Classifier, load_policy
from processors.policy.signals import SignalReader
from schemas import QueryEvent, Verdict

POLICY: Final = load_policy()
CLF: Final = Classifier(POLICY, AgencyRegistry.load())
READER: Final = SignalReader(POLICY)
LOCAL: Final = "CA0190000"  # LA County Sheriff
ERO: Final = "CAICE0100"
HSI: Final = "CAHSI0100"
CBP: Final = "CACBP0100"
BEFORE: Final = "2019-05-01T10:00:00-07:00"

ALLOWED_CJ: Final = ("allowed", "criminal_justice")
PROHIBITED_NCJ: Final = ("prohibited", "non_criminal_justice")
PROHIBITED_IMM: Final = ("prohibited", "immigration_enforcement")


def ev(
    reason: str = "traffic stop",
    *,
    mt: str = "DQ",
    ori: str = LOCAL,
    case: str | None = None,
    code: str | None = None,
    at: str | dt.datetime = BEFORE,
    event_id: str = "ev-1",
    **extra: Any,
) -> QueryEvent:
    """A query event of a local sheriff's office on a DMV licence key before POL-2d, unless told otherwise."""
    return QueryEvent(
        schema_version=1,
        event_id=event_id,
        occurred_at=dt.datetime.fromisoformat(at) if isinstance(at, str) else at,
        ori=ori,
        operator_id="op",
        terminal_id="t1",
        message_type=mt,
        purpose_code=code,
        reason=reason,
        case_number=case,
        **extra,
    )


def classify(reason: str = "traffic stop", **kwargs: Any) -> Verdict:
    return CLF.classify(ev(reason, **kwargs))


def outcome(reason: str, **kwargs: Any) -> tuple[str, str]:
    v = classify(reason, **kwargs)
    return v.verdict, v.purpose


@dataclass(frozen=True, slots=True)
class Reads:
    """Reasons that all classify to ``expected`` (verdict, purpose) on one message key, purpose code and
    agency; ``fired`` names rule-id prefixes that must fire; with ``section`` each reason is also read as a
    code section and no immigration cue."""

    shows: str  # what the group shows: the first part of each case's id
    expected: tuple[str, str]
    reasons: tuple[str, ...]
    mt: str = "DQ"
    code: str | None = None
    ori: str = LOCAL
    fired: tuple[str, ...] = ()
    section: bool = False

    def check(self, reason: str) -> None:
        where = f"{self.shows}: {reason!r}"
        if self.section:
            sig = READER.read(reason)
            assert sig.statutes, f"{where} reads no code section"
            assert not sig.of("immigration"), f"{where} reads an immigration cue: {sig.of('immigration')}"
        v = classify(reason, mt=self.mt, code=self.code, ori=self.ori)
        assert (v.verdict, v.purpose) == self.expected, f"{where} -> {v}"
        for prefix in self.fired:
            assert any(r.startswith(prefix) for r in v.rules), f"{where}: {prefix} did not fire: {v.rules}"


def cases(groups: Iterable[Reads]) -> list[ParameterSet]:
    """One case a reason of each group, with the id ``<shows>-<reason>``."""
    return [pytest.param(g, reason, id=f"{g.shows}-{reason}") for g in groups for reason in g.reasons]
