"""One typed settings object: environment variables (prefix ``CLETS_WATCH_``) and flags."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Defaults run on a laptop: SQLite file, Kafka on 127.0.0.1:9092, metrics on 127.0.0.1:9464."""

    model_config = SettingsConfigDict(env_prefix="CLETS_WATCH_", extra="ignore")

    env: str = Field("development", description="'production' makes the worker refuse to start without a key")
    home: Path = Field(Path(".clets-watch"), description="where local state lives (database, key, stack data)")
    db_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite:///<home>/clets-watch.db")
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_security_protocol: str = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (see docs/security.md)"
    )
    kafka_sasl_mechanism: str = Field("SCRAM-SHA-512", description="SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN")
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(None, description="PEM CA bundle the broker's certificate must chain to")
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
    window_seconds: int = 60
    allowed_lateness_seconds: int = 120
    alertmanager_url: str | None = Field(None, description="push the pipeline's own alerts to this Alertmanager")
    console_url: str | None = Field(None, description="base URL of `clets-watch serve`, for alert links")
    checkpoint_interval_seconds: float = Field(
        2.0, description="how often the worker saves its window state with the batch it writes (0 = every batch)"
    )
    dead_letter_max_ratio: float = Field(
        0.8, description="stop the worker when more than this share of recent messages is bad input (1 = never)"
    )
    dead_letter_window: int = Field(2000, description="how many recent messages dead_letter_max_ratio looks at")
    max_future_skew_seconds: int = Field(
        3600, description="an event time this far after its Kafka record's timestamp is bad input (invalid_time)"
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


def pseudonym_key(settings: Settings, *, announce: bool = True) -> tuple[bytes, str]:
    """Return the HMAC key for subject pseudonyms and a sentence saying where it came from.

    Order: ``CLETS_WATCH_PSEUDONYM_KEY``, then ``CLETS_WATCH_PSEUDONYM_KEY_FILE``; otherwise, outside
    production, a key file created once under the home folder with owner-only permissions.
    """
    if settings.pseudonym_key is not None:
        return settings.pseudonym_key.get_secret_value().encode(), "key from CLETS_WATCH_PSEUDONYM_KEY"
    if settings.pseudonym_key_file is not None:
        try:
            return settings.pseudonym_key_file.read_bytes().strip(), f"key file {settings.pseudonym_key_file}"
        except OSError as exc:
            raise MissingPseudonymKey(f"cannot read pseudonym key file {settings.pseudonym_key_file}: {exc}")
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
    return path.read_bytes().strip(), f"created local pseudonym key file {path} (owner-only); keep it for reproducible replays"


def masked_url(url: str) -> str:
    """A database URL fit to print: the password replaced by ***."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
