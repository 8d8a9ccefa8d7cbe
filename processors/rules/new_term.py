"""Rule new_term: an agency uses a data source (or message key) never seen in its history.

Evaluated per closed window, so the result does not depend on arrival order: a term first seen in
a window is new if the agency's history (at least ``min_history_events`` earlier queries, spanning at
least ``min_history_days``) lacks it.
Terms not used for ``history_days`` are forgotten. Key = ``ORI:field=value``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import msgspec

from processors.rules.base import Finding, Rule, RuleConfigError, RuleSettings, WindowView, refs
from schemas import ProcessedEvent

FIELDS: Final = ("data_source", "message_type")


@dataclass(frozen=True, slots=True)
class Params:
    fields: tuple[str, ...] = FIELDS
    min_history_events: int = 50
    min_history_days: float = 7.0  # and must span this long: a fresh watch learns before it judges
    history_days: int = 90
    max_terms_per_agency: int = 256


class _Agency(msgspec.Struct):
    events: int = 0
    first_seen: int = -1  # window start of the agency's first query in its history
    terms: dict[str, int] = {}  # "field=value" -> last window start it was used in


class _State(msgspec.Struct):
    agencies: dict[str, _Agency] = {}


class NewTerm(Rule[Params]):
    rule_id = "new_term"
    Params = Params

    def __init__(self, settings: RuleSettings) -> None:
        super().__init__(settings)
        bad = sorted(set(self.params.fields) - set(FIELDS))
        if bad or not self.params.fields:
            raise RuleConfigError(f"rule new_term: fields must be a non-empty subset of {FIELDS}, got {bad}")
        if (
            self.params.min_history_events < 1
            or self.params.history_days < 1
            or self.params.max_terms_per_agency < 1
        ):
            raise RuleConfigError(
                "rule new_term: min_history_events, history_days, max_terms_per_agency must be >= 1"
            )
        self._state = _State()

    def terms(self, event: ProcessedEvent) -> list[str]:
        return [f"{f}={getattr(event, f)}" for f in self.params.fields]

    def on_window(self, window: WindowView) -> list[Finding]:
        findings = []
        for ori, agency in window.agencies.items():
            known = self._state.agencies.get(ori) or _Agency()
            by_term: dict[str, list[ProcessedEvent]] = {}
            for e in agency.events:
                for term in self.terms(e):
                    by_term.setdefault(term, []).append(e)
            if known.first_seen < 0:
                known.first_seen = window.start
            mature = window.start - known.first_seen >= self.params.min_history_days * 86400
            if known.events >= self.params.min_history_events and mature:
                for term, events in sorted(by_term.items()):
                    if term in known.terms:
                        continue
                    field, _, value = term.partition("=")
                    summary = (
                        f"{ori} used {field.replace('_', ' ')} {value} for the first time in "
                        f"{known.events} queries of history"
                    )
                    counts = {"queries": len(events), "history_events": known.events}
                    findings.append(window.finding(ori, summary, refs(events), counts, key=f"{ori}:{term}"))
            for term in by_term:
                known.terms[term] = window.start
            if len(known.terms) > self.params.max_terms_per_agency:
                keep = sorted(known.terms.items(), key=lambda kv: (-kv[1], kv[0]))[
                    : self.params.max_terms_per_agency
                ]
                known.terms = dict(keep)
            known.events += len(agency.events)
            self._state.agencies[ori] = known
        return findings

    def evict(self, watermark_s: int) -> None:
        floor = watermark_s - self.params.history_days * 86400
        for ori in list(self._state.agencies):
            agency = self._state.agencies[ori]
            stale = [t for t, s in agency.terms.items() if s < floor]
            for t in stale:
                del agency.terms[t]
            if not agency.terms:
                del self._state.agencies[ori]

    def state_bytes(self) -> bytes:
        return msgspec.msgpack.encode(self._state)

    def load_state(self, data: bytes) -> None:
        self._state = msgspec.msgpack.decode(data, type=_State) if data else _State()
