"""Keyed HMAC pseudonyms for PII: every value under ``subject`` and the operator id.

A pseudonym is stable for one key (so rules can count distinct subjects and replays are
reproducible) and reveals nothing without the key.

Speed, with the same pseudonyms: HMAC-SHA256 (RFC 2104) is computed from two SHA-256 states keyed
once (the inner and outer pads) and copied for every value, instead of deriving the pads from the key
for every value; pseudonyms of recently seen values and operators are memoized in bounded caches.
"""

from __future__ import annotations

import hashlib
from typing import Final

import msgspec

_PREFIX_SUBJECT = b"subject\x00"
_PREFIX_OPERATOR = b"operator\x00"
_encode = msgspec.json.Encoder().encode
#: entries per memo; a full memo is cleared (memory must not grow with the stream)
CACHE_LIMIT: Final = 100_000
_BLOCK: Final = 64  # SHA-256 block size in bytes


class _KeyedSha256:
    """HMAC-SHA256 under one key with the keyed states precomputed: ``hexdigest(data)`` equals
    ``hmac.new(key, data, hashlib.sha256).hexdigest()``."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\x00")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def hexdigest(self, data: bytes) -> str:
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


class Pseudonymizer:
    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("the pseudonym key is empty")
        self._key = key
        self._hmac = _KeyedSha256(key)
        self._cache: dict[bytes, str] = {}
        self._operators: dict[str, str] = {}

    def _mac(self, data: bytes) -> str:
        cached = self._cache.get(data)
        if cached is None:
            cached = self._hmac.hexdigest(data)[:24]
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[data] = cached
        return cached

    def operator(self, operator_id: str) -> str:
        pseudo = self._operators.get(operator_id)
        if pseudo is None:
            pseudo = "op-" + self._mac(_PREFIX_OPERATOR + operator_id.encode("utf-8", "surrogatepass"))
            if len(self._operators) >= CACHE_LIMIT:
                self._operators.clear()
            self._operators[operator_id] = pseudo
        return pseudo

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
