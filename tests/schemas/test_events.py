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
        ("operator_id", "op\u200b7", "operator_id holds the invisible character U+200B (Cf) at position 2"),
        ("operator_id", "\u202eop7", "operator_id holds the invisible character U+202E (Cf) at position 0"),
        # N6 of the re-test: the old denylist missed these; now refused by Unicode category.
        ("operator_id", "op\U000e00411", "operator_id holds the invisible character U+E0041 (Cf)"),  # tag
        ("operator_id", "op\U000e00011", "U+E0001 (Cf)"),  # language tag
        ("event_id", "ev\u06001", "event_id holds the invisible character U+0600 (Cf)"),  # Arabic number sign
        ("operator_id", "op\u070f1", "U+070F (Cf)"),  # Syriac abbreviation mark
        ("operator_id", "op\u31641", "U+3164 (Lo) at position 2"),  # Hangul filler
        ("operator_id", "op1\u3164", "U+3164 (Lo) at position 3"),  # a trailing filler str.strip() keeps
        ("event_id", "\u3164", "event_id holds the invisible character U+3164 (Lo) at position 0"),
        ("event_id", "\uffa0", "U+FFA0 (Lo)"),  # halfwidth Hangul filler, a whole id
        ("operator_id", "\u115f\u1160", "U+115F (Lo) at position 0"),  # Hangul choseong/jungseong fillers
        ("terminal_id", "\u2800", "terminal_id holds the invisible character U+2800 (So)"),  # braille blank
        ("operator_id", "op\ufe0f1", "U+FE0F (Mn)"),  # variation selector 16
        ("operator_id", "op\U000e01001", "U+E0100 (Mn)"),  # variation selector 17
        ("operator_id", "op\u180b1", "U+180B (Mn)"),  # Mongolian free variation selector
        ("operator_id", "op\u17b41", "U+17B4 (Mn)"),  # Khmer inherent vowel
        ("operator_id", "op\u03011", "U+0301 (Mn)"),  # combining acute
        ("operator_id", "op\u20dd1", "U+20DD (Me)"),  # combining enclosing circle
        ("operator_id", "op\u00a01", "U+00A0 (Zs) at position 2"),  # no-break space inside
        ("event_id", "ev\u30001", "U+3000 (Zs)"),  # ideographic space inside
        ("operator_id", "op\u20071", "U+2007 (Zs)"),  # figure space
        ("operator_id", "op\ue0001", "U+E000 (Co)"),  # private use
        ("operator_id", "op\u03781", "U+0378 (Cn)"),  # unassigned
        ("operator_id", "op\uffff1", "U+FFFF (Cn)"),  # noncharacter
        ("event_id", "ev\u20601", "event_id holds the invisible character U+2060 (Cf)"),
        ("event_id", "ev\u20281", "event_id holds the invisible character U+2028"),
        ("terminal_id", "T\ufeff1", "terminal_id holds the invisible character U+FEFF"),
        ("event_id", "   ", "event_id '   ' is blank"),
        ("operator_id", " op7", "operator_id ' op7' is blank or has leading or trailing white space"),
        ("operator_id", "op7\u00a0", "U+00A0 (Zs) at position 3"),  # trailing no-break space
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


@pytest.mark.parametrize(
    "value", ["\u043ep1", "\uff4f\uff501", "\U0001d428\U0001d429\U0001d7cf", "op 1", "O'Brien\u00e9"]
)
def test_visible_look_alike_identifiers_are_accepted(value: str) -> None:
    """Look-alike letters (Cyrillic, fullwidth, mathematical) are visible text: accepted, each counting as
    another operator, as "OP1" does next to "op1"; an ASCII space inside an id is kept too."""
    assert decode_event(with_(operator_id=value)).operator_id == value
