"""Kafka transport security from the settings: TLS and SASL (SCRAM) for every Kafka client we open.

One place turns ``CLETS_WATCH_KAFKA_SECURITY_PROTOCOL`` and friends into what each client library wants:
keyword arguments for kafka-python (admin, producer, consumer) and broker credentials for Faust (aiokafka).
Incomplete or contradictory settings are refused with an error that names the setting to fix, before any
connection is tried — never a silent fall-back to an unauthenticated or unencrypted connection.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from clets_watch.settings import Settings

PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS: Final = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
_ENV: Final = "CLETS_WATCH_KAFKA_"


class KafkaSecurityError(ValueError):
    """The Kafka security settings are incomplete or contradict each other."""


@dataclass(frozen=True)
class KafkaSecurity:
    """Validated Kafka security settings. The password never appears in ``repr``."""

    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaSecurity:
        """Check the settings and return them as one value; raise ``KafkaSecurityError`` naming the problem."""
        protocol = settings.kafka_security_protocol.strip().upper().replace("-", "_")
        if protocol not in PROTOCOLS:
            raise KafkaSecurityError(
                f"{_ENV}SECURITY_PROTOCOL={settings.kafka_security_protocol!r} is not one of {', '.join(PROTOCOLS)}"
            )
        username = settings.kafka_sasl_username or None
        password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else None
        sasl = protocol in ("SASL_PLAINTEXT", "SASL_SSL")
        tls = protocol in ("SSL", "SASL_SSL")
        mechanism: str | None = None
        if sasl:
            mechanism = settings.kafka_sasl_mechanism.strip().upper().replace("_", "-")
            if mechanism not in MECHANISMS:
                raise KafkaSecurityError(
                    f"{_ENV}SASL_MECHANISM={settings.kafka_sasl_mechanism!r} is not one of {', '.join(MECHANISMS)}"
                )
            missing = [name for name, value in (("USERNAME", username), ("PASSWORD", password)) if not value]
            if missing:
                raise KafkaSecurityError(
                    f"{_ENV}SECURITY_PROTOCOL={protocol} needs "
                    + " and ".join(f"{_ENV}SASL_{m}" for m in missing)
                )
        elif username or password:
            raise KafkaSecurityError(
                f"Kafka SASL credentials are set but {_ENV}SECURITY_PROTOCOL={protocol} would not use them: "
                f"set it to SASL_SSL (or SASL_PLAINTEXT), or remove {_ENV}SASL_USERNAME/PASSWORD"
            )
        files = {
            "SSL_CAFILE": settings.kafka_ssl_cafile,
            "SSL_CERTFILE": settings.kafka_ssl_certfile,
            "SSL_KEYFILE": settings.kafka_ssl_keyfile,
        }
        given = {name: path for name, path in files.items() if path is not None}
        if given and not tls:
            raise KafkaSecurityError(
                f"{', '.join(_ENV + n for n in given)} set but {_ENV}SECURITY_PROTOCOL={protocol} does not use "
                "TLS: set it to SSL or SASL_SSL"
            )
        if settings.kafka_ssl_keyfile is not None and settings.kafka_ssl_certfile is None:
            raise KafkaSecurityError(
                f"{_ENV}SSL_KEYFILE is set without {_ENV}SSL_CERTFILE (the client certificate)"
            )
        for name, path in given.items():
            if not Path(path).is_file():
                raise KafkaSecurityError(f"{_ENV}{name}={path}: no such file")
        return cls(
            protocol=protocol,
            mechanism=mechanism,
            username=username if sasl else None,
            password=password if sasl else None,
            cafile=settings.kafka_ssl_cafile,
            certfile=settings.kafka_ssl_certfile,
            keyfile=settings.kafka_ssl_keyfile,
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client TLS context that verifies the broker's certificate and host name; None without TLS."""
        if not self.uses_tls:
            return None
        try:
            context = ssl.create_default_context(
                ssl.Purpose.SERVER_AUTH, cafile=str(self.cafile) if self.cafile else None
            )
        except (ssl.SSLError, OSError) as exc:
            raise KafkaSecurityError(
                f"{_ENV}SSL_CAFILE={self.cafile}: not a usable PEM CA bundle ({exc})"
            ) from exc
        if self.certfile is not None:
            try:
                context.load_cert_chain(str(self.certfile), str(self.keyfile) if self.keyfile else None)
            except (ssl.SSLError, OSError) as exc:
                raise KafkaSecurityError(
                    f"{_ENV}SSL_CERTFILE={self.certfile}: cannot load the client certificate and key ({exc})"
                ) from exc
        return context

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's ``KafkaAdminClient``/``KafkaProducer``/``KafkaConsumer``."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_tls:
            kwargs["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            kwargs.update(
                sasl_mechanism=self.mechanism,
                sasl_plain_username=self.username,
                sasl_plain_password=self.password,
            )
        return kwargs

    def faust_credentials(self) -> Any:
        """``broker_credentials`` for ``faust.App``: None for PLAINTEXT, else SSL or SASL credentials."""
        import faust

        if self.uses_sasl:
            return faust.SASLCredentials(
                username=self.username,
                password=self.password,
                mechanism=self.mechanism,
                ssl_context=self.ssl_context(),
            )
        if self.uses_tls:
            return faust.SSLCredentials(self.ssl_context())
        return None


def kafka_security(settings: Settings | None = None) -> KafkaSecurity:
    """The validated security of ``settings`` (by default: read from the environment now)."""
    return KafkaSecurity.from_settings(settings if settings is not None else Settings())


def kafka_client_kwargs(settings: Settings | None = None) -> dict[str, Any]:
    """kafka-python keyword arguments for ``settings`` (by default: read from the environment now)."""
    return kafka_security(settings).client_kwargs()


def faust_credentials(settings: Settings) -> Any:
    """Faust ``broker_credentials`` for ``settings``."""
    return kafka_security(settings).faust_credentials()


class BootstrapFailures(logging.Handler):
    """Collects why kafka-python's bootstrap connections failed, which its final timeout error does not say.

    kafka-python 3 logs each failed attempt (``Bootstrap connection to %s failed: %s``) with the exception
    as the second argument; a refused SASL login or an unverifiable certificate shows up only there.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.errors: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if (
            str(record.msg).startswith("Bootstrap connection to")
            and len(args) >= 2
            and isinstance(args[1], BaseException)
        ):
            self.errors.append(args[1])

    def reason(self) -> str | None:
        """The most telling failure: a refused login, then a TLS failure, else the last one seen."""
        for needle in ("Authentication", "SSL", "certificate"):
            for exc in reversed(self.errors):
                if needle in f"{type(exc).__name__}: {exc}":
                    return _describe(exc)
        return _describe(self.errors[-1]) if self.errors else None


def _describe(exc: BaseException) -> str:
    text = str(exc)
    name = type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}"


@contextlib.contextmanager
def bootstrap_failures() -> Iterator[BootstrapFailures]:
    """Within the block, record why kafka-python could not connect (see ``BootstrapFailures``)."""
    handler = BootstrapFailures()
    logger = logging.getLogger("kafka.net.manager")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
