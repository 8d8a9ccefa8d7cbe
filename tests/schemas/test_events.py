"""Query event v1: the validating decoder and the checked-in JSON Schema agree."""

from __future__ import annotations

import json

import jsonschema
import pytest

from schemas import InvalidEvent, decode_event, encode_event
from schemas.events import MAX_EVENT_BYTES
from schemas.export import SCHEMA_DIR, TYPES, render

GOOD = {
    "schema_version": 1,
    "event_id": "evt-000001",
    "occurred_at": "2019-03-01T10:15:00-08:00",
    "ori": "CA0190000",
    "operator_id": "LASD-40211",
    "terminal_id": "T-17",
    "message_type": "DQ",
    "purpose_code": None,
    "reason": "TRAFFIC STOP VC 22350",
    "case_number": "19-004512",
    "subject": {"name": "DOE, JANE", "dob": "1984-02-03", "dl_number": "D1234567"},
}


def with_(**changes: object) -> bytes:
    event = dict(GOOD)
    for key, value in changes.items():
        if value is ...:
            event.pop(key)
        else:
            event[key] = value
    return json.dumps(event).encode()


def test_good_event_decodes_with_its_fields() -> None:
    event = decode_event(json.dumps(GOOD).encode())
    assert event.ori == "CA0190000"
    assert event.occurred_at.utcoffset() is not None
    assert event.occurred_at.isoformat() == "2019-03-01T10:15:00-08:00"
    assert event.subject == GOOD["subject"]


def test_unknown_top_level_fields_are_ignored_and_not_kept() -> None:
    event = decode_event(with_(secret_note="do not keep"))
    assert b"secret_note" not in encode_event(event)


def test_round_trip_is_stable() -> None:
    event = decode_event(json.dumps(GOOD).encode())
    assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize(
    ("raw", "reason", "names"),
    [
        (b'{"schema_version": 1, "event_id": ', "malformed_json", "truncated"),
        (b"\xff\xfe{}", "invalid_utf8", "UTF-8"),
        (b"[1, 2]", "not_an_object", "object"),
        (with_(schema_version=2), "unknown_schema_version", "schema_version 2"),
        (with_(schema_version="1"), "unknown_schema_version", "schema_version '1'"),
        (with_(schema_version=...), "missing_field", "schema_version"),
        (with_(event_id=...), "missing_field", "event_id"),
        (with_(reason=...), "missing_field", "reason"),
        (with_(event_id=17), "wrong_type", "$.event_id"),
        (with_(subject=["DOE"]), "wrong_type", "$.subject"),
        (with_(occurred_at="2019-03-01T10:15:00"), "invalid_time", "timezone"),
        (with_(occurred_at="yesterday"), "invalid_time", "occurred_at"),
        (with_(occurred_at="2300-01-01T00:00:00Z"), "invalid_time", "outside"),
        (with_(occurred_at="1901-01-01T00:00:00Z"), "invalid_time", "outside"),
        (with_(ori="ca019"), "invalid_ori", "9 characters"),
        (with_(ori="CA01900001"), "invalid_ori", "$.ori"),
        (with_(event_id=""), "invalid_value", "$.event_id"),
        (with_(reason="x" * (MAX_EVENT_BYTES + 1)), "too_large", "limit"),
    ],
)
def test_bad_input_names_the_problem(raw: bytes, reason: str, names: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        decode_event(raw)
    assert info.value.reason == reason
    assert names in str(info.value)


@pytest.mark.parametrize("name", sorted(TYPES))
def test_checked_in_json_schema_equals_the_python_type(name: str) -> None:
    assert (SCHEMA_DIR / name).read_text() == render(TYPES[name]), "run `python -m schemas.export`"


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(GOOD).encode(),
        with_(purpose_code="C", case_number=None, subject=None),
        with_(ori="CA0190000", reason=""),
        with_(event_id=17),
        with_(ori="ca019"),
        with_(schema_version=2),
        with_(message_type=...),
        with_(subject={"plate": "7ABC123", "age": 40}),
        with_(subject={"nested": {"x": 1}}),
    ],
)
def test_json_schema_and_decoder_agree(raw: bytes) -> None:
    schema = json.loads((SCHEMA_DIR / "query_event.v1.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    schema_ok = validator.is_valid(json.loads(raw))
    try:
        decode_event(raw)
        decoder_ok = True
    except InvalidEvent:
        decoder_ok = False
    assert schema_ok == decoder_ok


def test_invalid_utf8_inside_a_string_is_bad_input_not_a_crash() -> None:
    raw = json.dumps(GOOD).encode().replace(b'"TRAFFIC', b'"\xffTRAFFIC')
    with pytest.raises(InvalidEvent) as info:
        decode_event(raw)
    assert info.value.reason == "invalid_utf8"


@pytest.mark.parametrize(
    ("field", "value", "names"),
    [
        ("operator_id", "op\u200b7", "operator_id holds the invisible character U+200B at position 2"),
        ("operator_id", "\u202eop7", "operator_id holds the invisible character U+202E at position 0"),
        ("event_id", "ev\u20601", "event_id holds the invisible character U+2060"),
        ("event_id", "ev\u20281", "event_id holds the invisible character U+2028"),
        ("terminal_id", "T\ufeff1", "terminal_id holds the invisible character U+FEFF"),
        ("event_id", "   ", "event_id '   ' is blank"),
        ("operator_id", " op7", "operator_id ' op7' is blank or has leading or trailing white space"),
        ("operator_id", "op7\u00a0", "has leading or trailing white space"),
    ],
)
def test_identity_fields_refuse_invisible_and_padded_text(field: str, value: str, names: str) -> None:
    """An attacker's finding: zero-width and bidi characters, or padding, made one operator count as several
    (splitting per-operator thresholds) and reached pages and terminals."""
    with pytest.raises(InvalidEvent) as err:
        decode_event(with_(**{field: value}))
    assert err.value.reason == "invalid_value" and names in str(err.value), err.value


def test_visible_non_ascii_identifiers_still_decode() -> None:
    """Only invisible characters are refused: a visible accented letter in an operator id is kept."""
    assert decode_event(with_(operator_id="Peña-7")).operator_id == "Peña-7"
