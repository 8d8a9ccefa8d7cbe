"""One typed settings object: environment variables (prefix ``CLETS_WATCH_``) and flags."""

from __future__ import annotations

import math
import os
import secrets
import stat
import string
from functools import lru_cache
from pathlib import Path
from typing import Final

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Defaults run on a laptop: SQLite file, Kafka on 127.0.0.1:9092, metrics on 127.0.0.1:9464."""

    model_config = SettingsConfigDict(env_prefix="CLETS_WATCH_", extra="ignore")

    env: str = Field("development", description="'production' makes the worker refuse to start without a key")
    home: Path = Field(
        Path(".clets-watch"), description="where local state lives (database, key, stack data)"
    )
    db_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite:///<home>/clets-watch.db")
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_security_protocol: str = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (see docs/security.md)"
    )
    kafka_sasl_mechanism: str = Field("SCRAM-SHA-512", description="SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN")
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(
        None, description="PEM CA bundle the broker's certificate must chain to"
    )
    kafka_ssl_certfile: Path | None = Field(None, description="PEM client certificate (mutual TLS)")
    kafka_ssl_keyfile: Path | None = Field(None, description="PEM private key of kafka_ssl_certfile")
    topic_queries: str = "clets.queries"
    topic_dead_letter: str = "clets.dead-letter"
    topic_alerts: str = "clets.alerts"
    topic_access_decisions: str = "clets.access-decisions"  # compacted: supervisors' suspend/restore per ORI
    topic_partitions: int = 1
    consumer_group: str = "clets-watch"
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    pseudonym_key: SecretStr | None = None
    pseudonym_key_file: Path | None = None
    agencies_file: Path | None = Field(None, description="agency registry CSV; default: the bundled one")
    policy_file: Path | None = Field(None, description="policy YAML; default: the bundled policy v1")
    rules_file: Path | None = Field(None, description="rules YAML merged over the bundled rules.yaml")
    window_seconds: int = 60
    allowed_lateness_seconds: int = 120
    alertmanager_url: str | None = Field(
        None, description="push the pipeline's own alerts to this Alertmanager"
    )
    console_url: str | None = Field(None, description="base URL of `clets-watch serve`, for alert links")
    console_users_file: Path | None = Field(
        None,
        description="the console's users file, also the only one the CLI's --by is checked against; "
        "default <home>/console-users.toml",
    )
    checkpoint_interval_seconds: float = Field(
        2.0,
        description="how often the worker saves its window state with the batch it writes (0 = every batch)",
    )
    dead_letter_max_ratio: float = Field(
        0.8,
        description="stop the worker when more than this share of recent messages is bad input (1 = never)",
    )
    dead_letter_window: int = Field(
        2000, description="how many recent messages dead_letter_max_ratio looks at"
    )
    max_future_skew_seconds: int = Field(
        3600,
        description="an event time this far after its Kafka record's timestamp is bad input (invalid_time)",
    )
    amendment_retention_seconds: int = Field(
        900, description="how long closed windows and seen event ids are kept for late events and duplicates"
    )

    @property
    def database_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{self.home / 'clets-watch.db'}"

    @property
    def is_production(self) -> bool:
        return self.env.lower() == "production"


class MissingPseudonymKey(RuntimeError):
    """Production mode without an explicit pseudonym key."""


class WeakKey(MissingPseudonymKey):
    """A key that production refuses: too little entropy, or a key file others may write."""


MIN_KEY_ENTROPY_BITS: Final = 256  # 32 bytes
MIN_KEY_DISTINCT_SYMBOLS: Final = 8
_HEX: Final = frozenset(string.hexdigits)
_BASE64: Final = frozenset(string.ascii_letters + string.digits + "+/=-_")


def key_entropy_bits(key: bytes) -> float:
    """An upper estimate of a key's entropy in bits, from its length and alphabet.

    A key of hex digits counts 4 bits a symbol, base64/base64url 6, other printable ASCII 6.57,
    anything else (raw bytes) 8. A key with fewer than 8 distinct symbols counts as 0 (``aaaa…``,
    ``abab…``). No estimate can tell a random key from a long typed phrase made of a wide alphabet;
    it refuses what is surely weak (short, repetitive or a narrow alphabet)."""
    if len(set(key)) < MIN_KEY_DISTINCT_SYMBOLS:
        return 0.0
    try:
        text = key.decode("ascii")
    except UnicodeDecodeError:
        return 8.0 * len(key)
    symbols = set(text)
    if symbols <= _HEX:
        per_symbol = 4.0
    elif symbols <= _BASE64:
        per_symbol = 6.0
    elif text.isprintable():
        per_symbol = math.log2(95)
    else:
        per_symbol = 8.0
    return per_symbol * len(text)


def check_key_strength(key: bytes, source: str) -> None:
    """Refuse a key under 32 bytes of entropy (``WeakKey`` names the source and the estimate)."""
    bits = key_entropy_bits(key)
    if bits < MIN_KEY_ENTROPY_BITS:
        raise WeakKey(
            f"{source}: the key has about {bits:.0f} bits of entropy, production needs at least "
            f"{MIN_KEY_ENTROPY_BITS} (32 random bytes): create one with `python3 -c 'import secrets; "
            "print(secrets.token_hex(32))'`"
        )


def _refuse_writable(path: Path, what: str, fix: str) -> None:
    """``WeakKey`` when ``path`` (``what``: "key file PATH", "the folder F of PATH") may be written by its
    group or others, with ``fix`` appended to the message."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise WeakKey(f"cannot stat {what}: {exc}") from None
    writers = [who for bit, who in ((stat.S_IWGRP, "its group"), (stat.S_IWOTH, "others")) if mode & bit]
    if writers:
        raise WeakKey(f"{what} is writable by {' and '.join(writers)} (mode {stat.S_IMODE(mode):04o}){fix}")


def check_key_file(path: Path) -> None:
    """Refuse a key file that the group or others may write (they could swap the key)."""
    _refuse_writable(path, f"key file {path}", f": `chmod 600 {path}`")


def check_owned_file(path: Path) -> None:
    """Refuse (``WeakKey``) a production file another account could swap: a symlink, a file not owned by
    the current user, a file its group or others may write, or one in a folder its group or others may
    write (they could rename another file over it)."""
    try:
        info = path.lstat()
    except OSError as exc:
        raise WeakKey(f"cannot stat {path}: {exc}") from None
    if stat.S_ISLNK(info.st_mode):
        raise WeakKey(f"{path} is a symlink: name the file itself")
    if info.st_uid != os.getuid():
        raise WeakKey(f"{path} is owned by uid {info.st_uid}, not by this user (uid {os.getuid()})")
    check_key_file(path)
    folder = path.absolute().parent
    _refuse_writable(
        folder, f"the folder {folder} of {path}", f", who could swap the file: `chmod go-w {folder}`"
    )


def pseudonym_key(settings: Settings, *, announce: bool = True) -> tuple[bytes, str]:
    """Return the HMAC key for subject pseudonyms and a sentence saying where it came from.

    Order: ``CLETS_WATCH_PSEUDONYM_KEY``, then ``CLETS_WATCH_PSEUDONYM_KEY_FILE``; otherwise, outside
    production, a key file created once under the home folder with owner-only permissions. In
    production a key under 32 bytes of entropy, or a key file the group or others may write, is
    refused (``WeakKey``).
    """
    if settings.pseudonym_key is not None:
        key = settings.pseudonym_key.get_secret_value().encode()
        if settings.is_production:
            check_key_strength(key, "CLETS_WATCH_PSEUDONYM_KEY")
        return key, "key from CLETS_WATCH_PSEUDONYM_KEY"
    if settings.pseudonym_key_file is not None:
        path = settings.pseudonym_key_file
        try:
            key = path.read_bytes().strip()
        except OSError as exc:
            raise MissingPseudonymKey(f"cannot read pseudonym key file {path}: {exc}") from None
        if settings.is_production:
            check_key_file(path)
            check_key_strength(key, f"pseudonym key file {path}")
        return key, f"key file {path}"
    if settings.is_production:
        raise MissingPseudonymKey(
            "CLETS_WATCH_ENV=production needs an explicit pseudonym key: "
            "set CLETS_WATCH_PSEUDONYM_KEY or CLETS_WATCH_PSEUDONYM_KEY_FILE"
        )
    path = settings.home / "pseudonym.key"
    if path.exists():
        return path.read_bytes().strip(), f"local key file {path}"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    return (
        path.read_bytes().strip(),
        f"created local pseudonym key file {path} (owner-only); keep it for reproducible replays",
    )


def masked_url(url: str) -> str:
    """A database URL fit to print: the password replaced by ***."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def users_file_path(settings: Settings) -> Path:
    """The console's users file: ``CLETS_WATCH_CONSOLE_USERS_FILE``, default ``<home>/console-users.toml``."""
    return settings.console_users_file or settings.home / "console-users.toml"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
