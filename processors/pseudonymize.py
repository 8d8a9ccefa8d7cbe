"""Keyed HMAC pseudonyms for PII: every value under ``subject`` and the operator id.

A pseudonym is stable for one key (so rules can count distinct subjects and replays are
reproducible) and reveals nothing without the key.
"""

from __future__ import annotations

import hashlib
import hmac

import msgspec

_PREFIX_SUBJECT = b"subject\x00"
_PREFIX_OPERATOR = b"operator\x00"
_encode = msgspec.json.Encoder().encode


class Pseudonymizer:
    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("the pseudonym key is empty")
        self._key = key
        self._cache: dict[bytes, str] = {}

    def _mac(self, data: bytes) -> str:
        cached = self._cache.get(data)
        if cached is None:
            cached = hmac.new(self._key, data, hashlib.sha256).hexdigest()[:24]
            if len(self._cache) > 100_000:  # bounded: memory must not grow with the stream
                self._cache.clear()
            self._cache[data] = cached
        return cached

    def operator(self, operator_id: str) -> str:
        return "op-" + self._mac(_PREFIX_OPERATOR + operator_id.encode("utf-8", "surrogatepass"))

    def subject(self, subject: dict[str, object] | None) -> dict[str, str]:
        """Pseudonymize each value (whatever its key); values are normalised so 'Doe ' and 'DOE' match."""
        if not subject:
            return {}
        out = {}
        for field, value in subject.items():
            if value is None:
                continue
            norm = " ".join(value.split()).upper() if isinstance(value, str) else value
            out[field] = "s-" + self._mac(_PREFIX_SUBJECT + field.encode() + b"\x00" + _encode(norm))
        return out

    def subject_key(self, subject: dict[str, object] | None) -> str | None:
        """One pseudonym for the whole subject (who was looked up), for distinct-subject rules."""
        pseudo = self.subject(subject)
        if not pseudo:
            return None
        return "s-" + self._mac(_PREFIX_SUBJECT + _encode(sorted(pseudo.items())))
