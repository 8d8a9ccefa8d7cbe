"""Kafka security settings -> kafka-python keyword arguments and Faust broker credentials (no broker needed)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import faust
import pytest
from pydantic import SecretStr

from clets_watch.kafka_admin import BrokerUnavailable, security_kwargs
from clets_watch.kafka_security import (
    KafkaSecurity,
    KafkaSecurityError,
    faust_credentials,
    kafka_client_kwargs,
)
from clets_watch.settings import Settings

# A real CA certificate (PEM) that ssl can load: the system bundle's first certificate, or Python's test one.
SYSTEM_CA = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")


@pytest.fixture
def cafile(tmp_path: Path) -> Path:
    text = SYSTEM_CA.read_text()
    first = text[: text.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")]
    path = tmp_path / "ca.pem"
    path.write_text(first[first.index("-----BEGIN CERTIFICATE-----") :] + "\n")
    return path


def sasl_ssl(cafile: Path | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_username": "clets",
        "kafka_sasl_password": "s3cret-pw",
        "kafka_ssl_cafile": cafile,
    }
    values.update(overrides)
    return Settings(**values)


def test_plaintext_by_default() -> None:
    settings = Settings(kafka_security_protocol="PLAINTEXT")
    assert kafka_client_kwargs(settings) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None


def test_sasl_ssl_gives_kafka_python_a_verifying_tls_context_and_scram_credentials(cafile: Path) -> None:
    kwargs = kafka_client_kwargs(sasl_ssl(cafile))
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("clets", "s3cret-pw")
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) == 1  # only the configured CA, not the system bundle


def test_sasl_ssl_gives_faust_scram_credentials_over_tls(cafile: Path) -> None:
    creds = faust_credentials(sasl_ssl(cafile, kafka_sasl_mechanism="scram-sha-256"))
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.protocol.value == "SASL_SSL"
    assert creds.mechanism.value == "SCRAM-SHA-256"
    assert (creds.username, creds.password) == ("clets", "s3cret-pw")
    assert isinstance(creds.ssl_context, ssl.SSLContext)
    assert "s3cret-pw" not in repr(creds)


def test_sasl_plaintext_and_ssl_only() -> None:
    plain = Settings(
        kafka_security_protocol="sasl_plaintext",
        kafka_sasl_username="u",
        kafka_sasl_password=SecretStr("p"),
        kafka_sasl_mechanism="PLAIN",
    )
    kwargs = kafka_client_kwargs(plain)
    assert kwargs["security_protocol"] == "SASL_PLAINTEXT" and "ssl_context" not in kwargs
    creds = faust_credentials(plain)
    assert isinstance(creds, faust.SASLCredentials) and creds.protocol.value == "SASL_PLAINTEXT"
    assert creds.mechanism.value == "PLAIN"

    tls = Settings(kafka_security_protocol="SSL")
    assert set(kafka_client_kwargs(tls)) == {"security_protocol", "ssl_context"}
    ssl_creds = faust_credentials(tls)
    assert isinstance(ssl_creds, faust.SSLCredentials) and ssl_creds.protocol.value == "SSL"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"kafka_security_protocol": "TLS"},
            "CLETS_WATCH_KAFKA_SECURITY_PROTOCOL='TLS' is not one of PLAINTEXT",
        ),
        ({"kafka_sasl_username": None}, "SECURITY_PROTOCOL=SASL_SSL needs CLETS_WATCH_KAFKA_SASL_USERNAME$"),
        ({"kafka_sasl_password": None}, "needs CLETS_WATCH_KAFKA_SASL_PASSWORD$"),
        (
            {"kafka_sasl_username": "", "kafka_sasl_password": None},
            "needs CLETS_WATCH_KAFKA_SASL_USERNAME and CLETS_WATCH_KAFKA_SASL_PASSWORD",
        ),
        ({"kafka_sasl_mechanism": "GSSAPI"}, "SASL_MECHANISM='GSSAPI' is not one of SCRAM-SHA-512"),
        ({"kafka_security_protocol": "PLAINTEXT"}, "credentials are set but .*PLAINTEXT would not use them"),
        ({"kafka_ssl_cafile": Path("/nonexistent/ca.pem")}, "SSL_CAFILE=/nonexistent/ca.pem: no such file"),
        (
            {"kafka_ssl_keyfile": Path("/etc/hostname")},
            "SSL_KEYFILE is set without CLETS_WATCH_KAFKA_SSL_CERTFILE",
        ),
    ],
)
def test_incomplete_or_contradictory_settings_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(KafkaSecurityError, match=message):
        KafkaSecurity.from_settings(sasl_ssl(**overrides))


def test_tls_files_without_tls_are_refused(cafile: Path) -> None:
    with pytest.raises(KafkaSecurityError, match="SSL_CAFILE set but .*PLAINTEXT does not use TLS"):
        KafkaSecurity.from_settings(Settings(kafka_ssl_cafile=cafile))


def test_a_cafile_that_is_not_pem_is_named(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    with pytest.raises(KafkaSecurityError, match=f"SSL_CAFILE={bogus}: not a usable PEM CA bundle"):
        kafka_client_kwargs(sasl_ssl(bogus))


def test_the_password_never_shows_in_reprs(cafile: Path) -> None:
    settings = sasl_ssl(cafile)
    assert "s3cret-pw" not in repr(settings)
    assert "s3cret-pw" not in repr(KafkaSecurity.from_settings(settings))


def test_environment_is_read_when_no_settings_are_given(
    monkeypatch: pytest.MonkeyPatch, cafile: Path
) -> None:
    monkeypatch.setenv("CLETS_WATCH_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CLETS_WATCH_KAFKA_SASL_USERNAME", "from-env")
    monkeypatch.setenv("CLETS_WATCH_KAFKA_SASL_PASSWORD", "env-pw")
    monkeypatch.setenv("CLETS_WATCH_KAFKA_SSL_CAFILE", str(cafile))
    kwargs = kafka_client_kwargs()
    assert kwargs["sasl_plain_username"] == "from-env" and kwargs["security_protocol"] == "SASL_SSL"
    assert security_kwargs(None)["sasl_plain_password"] == "env-pw"
    assert security_kwargs({"security_protocol": "PLAINTEXT"}) == {"security_protocol": "PLAINTEXT"}

    monkeypatch.delenv("CLETS_WATCH_KAFKA_SASL_PASSWORD")
    with pytest.raises(
        BrokerUnavailable, match="cannot connect to Kafka: .*needs CLETS_WATCH_KAFKA_SASL_PASSWORD"
    ):
        security_kwargs(None)


def test_the_worker_app_carries_the_credentials(cafile: Path) -> None:
    from processors.app import create_app

    app = create_app(sasl_ssl(cafile, kafka_bootstrap="127.0.0.1:1"))
    creds = app.conf.broker_credentials
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.protocol.value == "SASL_SSL" and creds.mechanism.value == "SCRAM-SHA-512"
    assert create_app(Settings(kafka_security_protocol="PLAINTEXT")).conf.broker_credentials is None
