"""The decoder refuses what the database cannot store: every string of a query event that reaches
``query_verdicts`` fits its column, whatever the decoder accepts. Column lengths are read from the model,
never copied, so a migration that shortens a column fails here, not in production."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import String

from processors.pseudonymize import Pseudonymizer
from schemas import InvalidEvent, decode_event
from schemas.events import MAX_SHORT
from sinks.models import QueryVerdict

GOOD: dict[str, Any] = {
    "schema_version": 1,
    "event_id": "evt-1",
    "occurred_at": "2019-03-01T10:15:00-08:00",
    "ori": "CA0190000",
    "operator_id": "LASD-40211",
    "terminal_id": "T-17",
    "message_type": "DQ",
    "purpose_code": "C",
    "reason": "TRAFFIC STOP",
    "case_number": None,
    "subject": {"name": "DOE, JANE"},
}


def column_length(column: str) -> int:
    kind = QueryVerdict.__table__.c[column].type
    assert isinstance(kind, String) and kind.length is not None, f"query_verdicts.{column} has no length"
    return kind.length


def accepts(field: str, value: str) -> bool:
    try:
        decode_event(json.dumps(GOOD | {field: value}).encode())
    except InvalidEvent as exc:
        assert exc.reason in {"invalid_value", "invalid_ori"}, exc
        assert field in exc.detail, f"the reason does not name {field}: {exc.detail}"
        return False
    return True


# (event field, its column, a valid value of n characters, the decoder admits exactly the column's length)
STORED_AS_IS: list[tuple[str, str, Callable[[int], str], bool]] = [
    ("event_id", "event_id", lambda n: "e" * n, True),
    ("message_type", "message_type", lambda n: "Q" * n, True),
    ("purpose_code", "purpose_code", lambda n: "C" * n, True),
    ("ori", "ori", lambda n: "CA" + "0" * (n - 2), False),  # 9 characters by its pattern
]


@pytest.mark.parametrize(
    ("field", "column", "value", "exact"), STORED_AS_IS, ids=[r[0] for r in STORED_AS_IS]
)
def test_the_decoder_refuses_a_value_longer_than_its_column(
    field: str, column: str, value: Callable[[int], str], exact: bool
) -> None:
    limit = column_length(column)
    assert not accepts(field, value(limit + 1))
    if exact:  # the limits agree: not merely stricter
        assert accepts(field, value(limit))
    else:
        assert accepts(field, value(9)) and not accepts(field, value(limit))


def test_a_too_long_message_key_names_the_field_and_the_limit() -> None:
    limit = column_length("message_type")
    with pytest.raises(InvalidEvent) as info:
        decode_event(json.dumps(GOOD | {"message_type": "Q" * (limit + 1)}).encode())
    assert info.value.reason == "invalid_value"
    assert info.value.detail == f"message_type is longer than its limit of {limit} characters"


@pytest.mark.parametrize(
    ("column", "pseudonym"),
    [
        ("operator", lambda p: p.operator("o" * MAX_SHORT)),
        ("subject_key", lambda p: p.subject_key({"name": "N" * 1000, "dob": "1984-02-03"})),
    ],
)
def test_a_pseudonym_fits_its_column_whatever_the_length_of_its_input(
    column: str, pseudonym: Callable[[Pseudonymizer], str | None]
) -> None:
    stored = pseudonym(Pseudonymizer(b"k"))
    assert stored is not None and len(stored) <= column_length(column)


@pytest.mark.parametrize("field", ["terminal_id", "reason", "case_number"])
def test_the_other_strings_are_not_stored(field: str) -> None:
    assert field not in QueryVerdict.__table__.c
