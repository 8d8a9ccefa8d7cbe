"""Fail closed (issue 13) in the pure core: control characters and deep nesting refused at decode,
exact-duplicate deduplication (id and content), unknown message keys and purpose codes raised to review,
one builder for every pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from clets_watch.settings import Settings
from processors.build import PipelineOverrides, build_pipeline
from processors.pipeline import Pipeline
from processors.unknown_keys import UNKNOWN_MESSAGE_KEY_RULE, UNKNOWN_PURPOSE_CODE_RULE
from schemas import InvalidEvent, decode_event
from schemas.events import MAX_NESTING
from tests.processors.factories import DHS_ORI, LASD, at, raw

KEY = b"fail-closed-test-key"


def event(event_id: str = "e1", **fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "schema_version": 1,
        "event_id": event_id,
        "occurred_at": at(0).isoformat(),
        "ori": LASD,
        "operator_id": "deputy-1",
        "terminal_id": "T1",
        "message_type": "QH",
        "purpose_code": "C",
        "reason": "burglary 459 PC",
        "case_number": "24-001",
        "subject": {"name": "person"},
    }
    base.update(fields)
    return base


def encode(fields: dict[str, object]) -> bytes:
    return json.dumps(fields).encode()


@pytest.fixture
def built(tmp_path: Path) -> object:
    return build_pipeline(Settings(home=tmp_path), PipelineOverrides(pseudonym_key=KEY))


def pipeline(tmp_path: Path) -> Pipeline:
    return build_pipeline(Settings(home=tmp_path), PipelineOverrides(pseudonym_key=KEY)).new()


# ---------------------------------------------------------------------------------------- decoding


@pytest.mark.parametrize(
    "field",
    ["event_id", "operator_id", "terminal_id", "message_type", "purpose_code", "reason", "case_number"],
)
@pytest.mark.parametrize("char", ["\x00", "\x01", "\n", "\x1b", "\x7f", "\x85"])
def test_a_control_character_in_any_string_field_is_refused_naming_the_field(field: str, char: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        decode_event(encode(event(**{field: f"ab{char}cd"})))
    assert info.value.reason == "control_character"
    assert field in info.value.detail and f"U+{ord(char):04X}" in info.value.detail


def test_a_control_character_in_a_subject_key_or_value_is_refused() -> None:
    for subject in (
        {"name": "Jane\x00Doe"},
        {"na\x00me": "Jane"},
        {"dob": "1970\u200b", "plate": "7ABC\x00"},
    ):
        with pytest.raises(InvalidEvent, match="control_character: subject"):
            decode_event(encode(event(subject=subject)))


def test_printable_unicode_and_escaped_backslashes_are_accepted() -> None:
    ok = decode_event(encode(event(reason="é ü 中 \\u0000 not a NUL", case_number="A\\B")))
    assert ok.reason == "é ü 中 \\u0000 not a NUL"


def test_deep_nesting_is_refused_before_parsing_and_shallow_extras_pass() -> None:
    deep = encode(event())[:-1] + b', "x": ' + b"[" * 1500 + b"]" * 1500 + b"}"
    with pytest.raises(InvalidEvent, match=f"too_deep: nested deeper than {MAX_NESTING}"):
        decode_event(deep)
    brackets_in_text = encode(event(reason="[" * 200))
    assert decode_event(brackets_in_text).reason == "[" * 200
    assert decode_event(encode(event(extra=[[[1]]]))).event_id == "e1"


def test_a_nul_bearing_event_becomes_a_dead_letter_and_the_stream_goes_on(tmp_path: Path) -> None:
    p = pipeline(tmp_path)
    bad = p.process_raw(encode(event("e\x00vil")), source="t/0/1")
    good = p.process_raw(encode(event("e2")), source="t/0/2")
    assert bad.processed is None and [d.reason for d in bad.dead_letters] == ["control_character"]
    assert good.processed is not None and good.processed.event_id == "e2"


# ---------------------------------------------------------------------------------------- deduplication


def test_an_exact_duplicate_is_dropped_even_with_other_json_layout(tmp_path: Path) -> None:
    p = pipeline(tmp_path)
    first = p.process_raw(encode(event()))
    relaid = json.dumps(event(), indent=2, sort_keys=True).encode()
    again = p.process_raw(relaid)
    assert first.processed is not None and again.duplicate and again.dead_letters == []
    assert p.stats.duplicates == 1 and p.stats.events == 1


def test_same_id_other_content_is_processed_and_dead_lettered_not_hidden(tmp_path: Path) -> None:
    """The attack of issue 13: a harmless event of another agency carries the id of a later prohibited
    ICE-ERO query. The prohibited query must still be classified and alert."""
    p = pipeline(tmp_path)
    decoy = p.process_raw(encode(event("shared-id", ori=LASD, message_type="QH")), source="t/0/1")
    prohibited = encode(
        event(
            "shared-id",
            ori=DHS_ORI,
            message_type="DQ",
            purpose_code=None,
            reason="ero detainer removal A#204512345",
            occurred_at=at(5).isoformat(),
        )
    )
    hidden = p.process_raw(prohibited, source="t/0/2")
    assert decoy.processed is not None
    assert hidden.processed is not None and hidden.processed.verdict == "prohibited"
    assert [d.reason for d in hidden.dead_letters] == ["conflicting_duplicate"]
    assert hidden.dead_letters[0].event_id == "shared-id" and hidden.dead_letters[0].source == "t/0/2"
    assert p.stats.conflicting_duplicates == 1 and p.stats.duplicates == 0
    # a redelivery of either version is an exact duplicate: dropped, no second dead letter
    again = p.process_raw(prohibited)
    assert again.duplicate and again.dead_letters == []
    assert p.process_raw(encode(event("shared-id", ori=LASD, message_type="QH"))).duplicate
    # the first alert of an incident goes out once the watermark has passed its window (incidents)
    alerts = hidden.alerts + again.alerts + p.close().alerts
    assert [(a.rule, a.ori) for a in alerts] == [("prohibited_query", DHS_ORI)]


def test_content_digests_survive_a_snapshot(tmp_path: Path) -> None:
    p = pipeline(tmp_path)
    p.process_raw(encode(event("x1")))
    restored = pipeline(tmp_path)
    restored.load_snapshot(p.snapshot())
    assert restored.process_raw(encode(event("x1"))).duplicate
    conflict = restored.process_raw(encode(event("x1", reason="other reason 459 PC")))
    assert [d.reason for d in conflict.dead_letters] == ["conflicting_duplicate"]


# ---------------------------------------------------------------------------------------- unknown keys


def test_an_unknown_message_key_is_processed_with_verdict_review(tmp_path: Path) -> None:
    p = pipeline(tmp_path)
    r = p.process_raw(encode(event(message_type="ZZQ")))
    assert r.processed is not None
    assert r.processed.verdict == "review" and UNKNOWN_MESSAGE_KEY_RULE in r.processed.rules
    assert r.processed.data_source == "unknown"


def test_an_unknown_purpose_code_is_review_never_allowed(tmp_path: Path) -> None:
    p = pipeline(tmp_path)
    r = p.process_raw(encode(event(purpose_code="Q")))
    assert r.processed is not None
    assert r.processed.verdict == "review" and UNKNOWN_PURPOSE_CODE_RULE in r.processed.rules
    known = p.process_raw(encode(event("e2", purpose_code="I", reason="employment background check")))
    assert known.processed is not None and UNKNOWN_PURPOSE_CODE_RULE not in known.processed.rules


def test_an_unknown_key_never_lowers_a_prohibited_verdict(tmp_path: Path) -> None:
    p = pipeline(tmp_path)
    r = p.process_raw(
        encode(event(ori=DHS_ORI, message_type="DQX", purpose_code=None, reason="ice detainer removal"))
    )
    assert r.processed is not None and r.processed.verdict == "prohibited"
    assert UNKNOWN_MESSAGE_KEY_RULE in r.processed.rules


def test_known_keys_in_any_case_and_spacing_are_known(tmp_path: Path) -> None:
    p = pipeline(tmp_path)
    r = p.process_raw(encode(event(message_type=" dq ")))
    assert r.processed is not None and UNKNOWN_MESSAGE_KEY_RULE not in r.processed.rules


# ---------------------------------------------------------------------------------------- one builder


def test_worker_replay_and_tests_build_the_same_pipeline(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  cardinality:\n    params:\n      max_distinct_subjects: 3\n")
    settings = Settings(home=tmp_path, amendment_retention_seconds=321, rules_file=rules)
    built = build_pipeline(settings, PipelineOverrides(pseudonym_key=KEY))
    config = built.new().config
    assert config.amendment_retention_seconds == 321 and config.rules_file == rules
    [card] = [r for r in built.new().rules if r.rule_id == "cardinality"]
    assert card.settings.params["max_distinct_subjects"] == 3
    override = build_pipeline(settings, PipelineOverrides(pseudonym_key=KEY, window_seconds=120))
    assert override.config.window_seconds == 120 and override.config.amendment_retention_seconds == 321


def test_a_bad_rules_file_fails_at_build_time(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  cardinality:\n    params:\n      max_distinct_subject: 3\n")
    with pytest.raises(ValueError, match=r"rules.yaml line 4: rules.cardinality.params.max_distinct_subject"):
        build_pipeline(Settings(home=tmp_path, rules_file=rules), PipelineOverrides(pseudonym_key=KEY))


def test_raw_factory_events_still_decode() -> None:
    assert decode_event(raw("f1")).event_id == "f1"
    assert msgspec.json.decode(raw("f1"))["event_id"] == "f1"
