"""Key checks: production refuses a pseudonym key under 32 bytes of entropy and key files that the
group or others may write; the audit runs' key fingerprint is a keyed derivation, never a bare hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

import pytest

from clets_watch.settings import Settings, WeakKey, key_entropy_bits, pseudonym_key
from sinks.audit import KEY_FINGERPRINT_LABEL, key_fingerprint


@pytest.fixture(autouse=True)
def no_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLETS_WATCH_PSEUDONYM_KEY", "CLETS_WATCH_PSEUDONYM_KEY_FILE", "CLETS_WATCH_ENV"):
        monkeypatch.delenv(name, raising=False)


def prod(**kw: object) -> Settings:
    return Settings(env="production", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "a" * 64,
        "abababababababababababababababababababababababababababababababab",
        "0123456789abcdef" * 3,
        secrets.token_hex(31),
        "correct horse battery",
    ],
)
def test_production_refuses_a_weak_key(key: str) -> None:
    with pytest.raises(WeakKey, match="bits of entropy, production needs at least 256"):
        pseudonym_key(prod(pseudonym_key=key))


@pytest.mark.parametrize("key", [secrets.token_hex(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)])
def test_production_accepts_a_random_32_byte_key(key: str) -> None:
    assert pseudonym_key(prod(pseudonym_key=key))[0] == key.encode()


def test_raw_random_bytes_count_8_bits_each() -> None:
    assert key_entropy_bits(bytes(range(200, 232))) == 256  # 32 distinct non-ASCII bytes
    assert key_entropy_bits(b"\x00" * 64) == 0


def test_development_keeps_accepting_any_key() -> None:
    assert pseudonym_key(Settings(env="development", pseudonym_key="a"))[0] == b"a"


@pytest.mark.parametrize(
    ("mode", "who"), [(0o620, "its group"), (0o602, "others"), (0o666, "its group and others")]
)
def test_production_refuses_a_key_file_others_may_write(tmp_path: Path, mode: int, who: str) -> None:
    path = tmp_path / "pseudonym.key"
    path.write_text(secrets.token_hex(32))
    path.chmod(mode)
    with pytest.raises(WeakKey, match=f"writable by {who} \\(mode {mode:04o}\\): `chmod 600"):
        pseudonym_key(prod(pseudonym_key_file=path))
    path.chmod(0o600)
    assert pseudonym_key(prod(pseudonym_key_file=path))[1] == f"key file {path}"


def test_production_refuses_a_weak_key_file(tmp_path: Path) -> None:
    path = tmp_path / "pseudonym.key"
    path.write_text("hunter2\n")
    path.chmod(0o600)
    with pytest.raises(WeakKey, match=f"pseudonym key file {path}"):
        pseudonym_key(prod(pseudonym_key_file=path))


def test_the_key_fingerprint_is_keyed_not_a_bare_hash() -> None:
    key = b"a"
    fp = key_fingerprint(key)
    assert fp == hmac.new(key, KEY_FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:16]
    bare = {
        hashlib.sha256(key).hexdigest()[:16],
        hashlib.sha256(b"clets-watch key fingerprint\x00" + key).hexdigest()[:16],
    }
    assert fp not in bare
    assert len({key_fingerprint(k) for k in (b"a", b"b", b"a ")}) == 3
