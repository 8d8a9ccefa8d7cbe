"""Unknown message keys and purpose codes: processed, never silently allowed (fail closed).

A query event may carry a message key the policy's ``data_sources`` table does not list, or a purpose
code that is not one of the III codes. Such an event is still a query someone ran: it is processed
(counted, windowed, seen by the rules), and its verdict is raised to at least ``review`` with a rule id
saying why, so that a typo or a new key never turns into ``allowed`` unseen.

Pure: no I/O. ``guard_unknown_keys`` wraps a classifier function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

import msgspec

from schemas import QueryEvent, Verdict

UNKNOWN_MESSAGE_KEY_RULE: Final = "INPUT.unknown-message-key"
UNKNOWN_PURPOSE_CODE_RULE: Final = "INPUT.unknown-purpose-code"
# The III purpose codes (domain.md, "Identifiers and message keys").
III_PURPOSE_CODES: Final = frozenset("CJDFHISVXAR")
# The message keys of domain.md (policy v1's data_sources table); a policy's own table is used where known.
DOMAIN_MESSAGE_KEYS: Final = frozenset(
    {"QH", "QR", "IQ", "FQ", "AQ", "DQ", "DNQ", "DQG", "RQ", "RNQ", "RPQ", "QW", "QWB", "QV", "QG", "QA"}
    | {"PAQ", "PPQ", "PBQ", "YQ"}
)
OTHER_LABEL: Final = "other"
_RANK: Final = {"allowed": 0, "review": 1, "prohibited": 2}


def normalize_key(value: str) -> str:
    """A message key or purpose code as the policy reads it (``dq `` is ``DQ``)."""
    return value.strip().upper()


class KnownKeys:
    """The message keys and purpose codes a policy knows."""

    def __init__(self, message_keys: Iterable[str], purpose_codes: Iterable[str] = III_PURPOSE_CODES) -> None:
        self.message_keys = frozenset(normalize_key(k) for k in message_keys)
        self.purpose_codes = frozenset(normalize_key(c) for c in purpose_codes)

    def message_key_label(self, message_type: str) -> str:
        """A bounded metric label: the normalized key when the policy knows it, else ``other``."""
        key = normalize_key(message_type)
        return key if key in self.message_keys else OTHER_LABEL

    def unknown_rules(self, event: QueryEvent) -> tuple[str, ...]:
        rules: list[str] = []
        if normalize_key(event.message_type) not in self.message_keys:
            rules.append(UNKNOWN_MESSAGE_KEY_RULE)
        code = normalize_key(event.purpose_code or "")
        if code and code not in self.purpose_codes:
            rules.append(UNKNOWN_PURPOSE_CODE_RULE)
        return tuple(rules)


def guard_unknown_keys(
    classify: Callable[[QueryEvent], Verdict], known: KnownKeys
) -> Callable[[QueryEvent], Verdict]:
    """``classify``, with an unknown message key or purpose code raising the verdict to at least ``review``
    (the strictest verdict wins) and citing ``INPUT.unknown-*``."""

    def guarded(event: QueryEvent) -> Verdict:
        verdict = classify(event)
        extra = known.unknown_rules(event)
        if not extra:
            return verdict
        level = verdict.verdict if _RANK[verdict.verdict] >= _RANK["review"] else "review"
        return msgspec.structs.replace(verdict, verdict=level, rules=(*verdict.rules, *extra))

    return guarded
