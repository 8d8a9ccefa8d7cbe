"""Pseudonyms: the precomputed keyed states give exactly HMAC-SHA256, and the memos change no result."""

from __future__ import annotations

import hashlib
import hmac

import msgspec
import pytest

from processors import pseudonymize
from processors.pseudonymize import Pseudonymizer


def reference_mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()[:24]


@pytest.mark.parametrize("key", [b"k", b"x" * 32, b"y" * 64, b"z" * 65, bytes(range(256)) * 2])
def test_keyed_states_equal_hmac_sha256(key: bytes) -> None:
    mac = pseudonymize._KeyedSha256(key)
    for data in (b"", b"operator\x00OP-1", "subject\x00ÄÖ".encode(), b"a" * 1000):
        assert mac.hexdigest(data) == hmac.new(key, data, hashlib.sha256).hexdigest()


def test_pseudonyms_are_the_documented_hmacs() -> None:
    key = b"secret-key"
    p = Pseudonymizer(key)
    assert p.operator("OP-7") == "op-" + reference_mac(key, b"operator\x00OP-7")
    subject: dict[str, object] = {"last_name": " doe  ", "dob": "1990-01-01", "none": None}
    fields = {
        "last_name": "s-" + reference_mac(key, b"subject\x00last_name\x00" + msgspec.json.encode("DOE")),
        "dob": "s-" + reference_mac(key, b"subject\x00dob\x00" + msgspec.json.encode("1990-01-01")),
    }
    assert p.subject(subject) == fields
    whole = "s-" + reference_mac(key, b"subject\x00" + msgspec.json.encode(sorted(fields.items())))
    assert p.subject_key(subject) == whole
    assert p.subject_key({"last_name": "DOE", "dob": "1990-01-01"}) == whole  # normalised the same
    assert p.subject_key(None) is None and p.subject_key({}) is None


def test_equal_but_differently_typed_values_get_different_pseudonyms() -> None:
    p = Pseudonymizer(b"k")
    assert len({p.subject_key({"n": v}) for v in (1, 1.0, True, "1")}) == 4


def test_memos_are_bounded_and_change_no_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pseudonymize, "CACHE_LIMIT", 3)
    p = Pseudonymizer(b"k")
    fresh = Pseudonymizer(b"k")
    first = [p.operator(f"OP-{i}") for i in range(10)]
    again = [p.operator(f"OP-{i}") for i in range(10)]
    assert first == again == [fresh.operator(f"OP-{i}") for i in range(10)]
    assert len(p._operators) <= 3 and len(p._cache) <= 3


def test_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="key is empty"):
        Pseudonymizer(b"")
