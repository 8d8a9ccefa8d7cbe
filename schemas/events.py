"""Query event v1: one CLETS query as it enters the pipeline (design.md, "Contracts").

``decode_event`` is the hot-path decoder: bytes in, a validated ``QueryEvent`` out, or an
``InvalidEvent`` naming the problem, which the caller routes to the dead-letter topic.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Annotated, Any, Final, Literal

import msgspec

ORI_PATTERN: Final = r"^[A-Z]{2}[A-Z0-9]{7}$"
MAX_EVENT_BYTES: Final = 64 * 1024
# Event times outside this range are bad input, not history: CLETS predates neither bound.
EARLIEST_EVENT_TIME: Final = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
LATEST_EVENT_TIME: Final = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)

# Every reason a message can be dead-lettered with. ``late`` comes from the window stage.
DEAD_LETTER_REASONS: Final = (
    "too_large",
    "invalid_utf8",
    "malformed_json",
    "not_an_object",
    "unknown_schema_version",
    "missing_field",
    "wrong_type",
    "invalid_time",
    "invalid_ori",
    "invalid_value",
    "control_character",
    "too_deep",
    "late",
    "processing_error",
    "conflicting_duplicate",
    "sink_rejected",
)

# A query event is two levels deep (the event, its subject); unknown extra fields may nest a little
# more, but never this much: deeper input is refused before it is parsed (a stack-depth bomb).
MAX_NESTING: Final = 32
# C0 controls (NUL, newline, tab, ...), DEL, C1 controls and lone surrogates: no field of a query event
# holds them, and the database refuses some of them (PostgreSQL text cannot contain NUL).
_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_TOO_LONG: Final = re.compile(r"Expected `str` of length <= (\d+) - at `\$\.(\w+)`")
# Characters that make one identifier look like another or like nothing, refused in the identity fields of
# a non-ASCII id, where they would split one operator into several or hide a finding behind a look-alike id:
# every character of these Unicode categories (controls, format characters such as zero-width, bidi and tag
# characters, surrogates, private use, unassigned, line/paragraph separators, combining marks including the
# variation selectors), every space but the ASCII one, and the letters and symbols that draw blank (Hangul
# fillers, braille blank). Visible look-alike letters (Cyrillic "о", fullwidth "ｏ", mathematical "𝐨") are
# visible text and stay accepted: each is another operator, as "OP1" is another than "op1".
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs", "Mn", "Mc", "Me"})
_BLANK_LOOKING: Final = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Raw bytes that may decode to such a character: a JSON escape, DEL, or a UTF-8 C1 control.
_MAYBE_CONTROL: Final = re.compile(rb"\\[bfnrtu]|\x7f|\xc2[\x80-\x9f]")

# The longest value of each field the database stores as it comes (sinks/models.py's column lengths;
# tests/schemas/test_field_limits.py keeps them equal): a longer one is bad input, refused here, not by the
# database. The other strings are stored as pseudonyms or flags, or not at all.
MAX_EVENT_ID: Final = 256
MAX_MESSAGE_TYPE: Final = 32
MAX_PURPOSE_CODE: Final = 16
MAX_SHORT: Final = 256

Ori = Annotated[str, msgspec.Meta(pattern=ORI_PATTERN, description="originating agency identifier")]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_SHORT)]
Short = Annotated[str, msgspec.Meta(max_length=MAX_SHORT)]
EventId = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_EVENT_ID)]
MessageType = Annotated[
    str, msgspec.Meta(min_length=1, max_length=MAX_MESSAGE_TYPE, description="CLETS/NCIC message key")
]
PurposeCode = Annotated[str, msgspec.Meta(max_length=MAX_PURPOSE_CODE, description="III purpose code")]
Reason = Annotated[str, msgspec.Meta(max_length=1024, description="free-text reason / attention field")]
EventTime = Annotated[dt.datetime, msgspec.Meta(tz=True, description="RFC 3339 with offset; event time")]
SubjectValue = str | int | float | bool | None


class QueryEvent(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """One CLETS query (query event v1). Unknown extra top-level fields are ignored."""

    schema_version: Literal[1]
    event_id: EventId
    occurred_at: EventTime
    ori: Ori
    operator_id: NonEmpty
    terminal_id: Short
    message_type: MessageType
    purpose_code: PurposeCode | None = None
    reason: Reason
    case_number: Short | None = None
    subject: dict[str, SubjectValue] | None = None


class InvalidEvent(ValueError):
    """Bad input: the message cannot be processed. ``reason`` is one of DEAD_LETTER_REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class _Envelope(msgspec.Struct):
    schema_version: Any = msgspec.UNSET


_decoder: Final = msgspec.json.Decoder(QueryEvent)
_envelope_decoder: Final = msgspec.json.Decoder(_Envelope)
_encoder: Final = msgspec.json.Encoder()


def decode_event(raw: bytes | str) -> QueryEvent:
    """Decode and validate one query event; raise ``InvalidEvent`` naming the problem."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if len(data) > MAX_EVENT_BYTES:
        size = getattr(raw, "size", len(data))  # a bounded reader's OversizedLine knows the whole size
        raise InvalidEvent("too_large", f"message is {size} bytes, the limit is {MAX_EVENT_BYTES}")
    _check_nesting(data)
    try:
        event = _decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise _classify_validation_error(data, str(exc)) from None
    except UnicodeDecodeError as exc:  # msgspec raises this for invalid UTF-8 inside a string
        raise InvalidEvent("invalid_utf8", f"not valid UTF-8 at byte {exc.start} of a string") from None
    except msgspec.DecodeError as exc:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as uexc:
            raise InvalidEvent("invalid_utf8", f"not valid UTF-8 at byte {uexc.start}") from None
        raise InvalidEvent("malformed_json", str(exc)) from None
    if not EARLIEST_EVENT_TIME <= event.occurred_at < LATEST_EVENT_TIME:
        raise InvalidEvent(
            "invalid_time",
            f"occurred_at {event.occurred_at.isoformat()} is outside "
            f"{EARLIEST_EVENT_TIME.year}..{LATEST_EVENT_TIME.year - 1}",
        )
    if _MAYBE_CONTROL.search(data) is not None:
        _check_control_characters(event)
    _check_identifiers(event)
    return event


def _check_identifiers(event: QueryEvent) -> None:
    """The identity fields are visible text: no invisible character anywhere, and the event and operator
    ids not blank nor padded with white space (each would count as another event or operator)."""
    for name, text, required in (
        ("event_id", event.event_id, True),
        ("operator_id", event.operator_id, True),
        ("terminal_id", event.terminal_id, False),
    ):
        if not text.isascii():  # an all-ASCII id (nearly every one) skips the per-character check
            position = _first_invisible(text)
            if position is not None:
                char = text[position]
                raise InvalidEvent(
                    "invalid_value",
                    f"{name} holds the invisible character U+{ord(char):04X} "
                    f"({unicodedata.category(char)}) at position {position}: identifiers must be visible text",
                )
        if required and (not text.strip() or text != text.strip()):
            raise InvalidEvent(
                "invalid_value", f"{name} {text!r} is blank or has leading or trailing white space"
            )


def _first_invisible(text: str) -> int | None:
    """The position of the first character of ``text`` that is not visible text (see _REFUSED_CATEGORIES), or
    None; the ASCII space is allowed here (padding is refused apart)."""
    for position, char in enumerate(text):
        if char != " " and (char in _BLANK_LOOKING or unicodedata.category(char) in _REFUSED_CATEGORIES):
            return position
    return None


def _check_nesting(data: bytes) -> None:
    """Refuse input nested deeper than MAX_NESTING (brackets outside strings), before parsing it."""
    if data.count(b"[") + data.count(b"{") <= MAX_NESTING:
        return
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_NESTING:
                raise InvalidEvent("too_deep", f"nested deeper than {MAX_NESTING} levels")
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1


def _check_control_characters(event: QueryEvent) -> None:
    """Refuse a control character (or lone surrogate) in any string field, naming the field."""
    fields: list[tuple[str, str | None]] = [
        ("event_id", event.event_id),
        ("ori", event.ori),
        ("operator_id", event.operator_id),
        ("terminal_id", event.terminal_id),
        ("message_type", event.message_type),
        ("purpose_code", event.purpose_code),
        ("reason", event.reason),
        ("case_number", event.case_number),
    ]
    for key, value in (event.subject or {}).items():
        fields.append((f"subject key {key[:40]!r}", key))
        if isinstance(value, str):
            fields.append((f"subject.{key[:40]}", value))
    for name, text in fields:
        if text is None:
            continue
        found = _CONTROL.search(text)
        if found is not None:
            char = found.group()
            raise InvalidEvent(
                "control_character",
                f"{name} holds the control character U+{ord(char):04X} at position {found.start()}",
            )


def _classify_validation_error(data: bytes, message: str) -> InvalidEvent:
    try:
        envelope = _envelope_decoder.decode(data)
    except msgspec.ValidationError:
        return InvalidEvent("not_an_object", "a query event must be a JSON object")
    except msgspec.DecodeError:  # pragma: no cover - already decoded once
        return InvalidEvent("malformed_json", message)
    if envelope.schema_version is msgspec.UNSET:
        return InvalidEvent("missing_field", "Object missing required field `schema_version`")
    if envelope.schema_version != 1 or isinstance(envelope.schema_version, bool):
        return InvalidEvent(
            "unknown_schema_version",
            f"schema_version {envelope.schema_version!r} is not supported (this build reads 1)",
        )
    if message.startswith("Object missing required field"):
        return InvalidEvent("missing_field", message)
    if "$.occurred_at" in message:
        return InvalidEvent("invalid_time", message)
    if "$.ori" in message and "matching regex" in message:
        return InvalidEvent("invalid_ori", f"{message} (an ORI is 9 characters: a 2-letter code and 7 more)")
    if ", got `" in message:
        return InvalidEvent("wrong_type", message)
    too_long = _TOO_LONG.search(message)
    if too_long is not None:
        limit, name = too_long.groups()
        return InvalidEvent("invalid_value", f"{name} is longer than its limit of {limit} characters")
    return InvalidEvent("invalid_value", message)


def encode_event(event: QueryEvent) -> bytes:
    """Encode a query event as compact JSON (the wire and archive format)."""
    return _encoder.encode(event)
