"""Transport security for real: a broker with a SASL_SSL (SCRAM-SHA-512) listener and a PostgreSQL over TLS,
both started by this module with certificates it makes itself; the worker runs the pipeline through them.

Also: a client without credentials (or with the wrong ones, or without the CA) is refused with a clear
error; services and the worker's metrics endpoint bind to loopback; the metrics carry no event data; and a
production worker without a pseudonym key refuses to start.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import re
import shutil
import socket
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from sqlalchemy import text

from clets_watch.kafka_admin import BrokerUnavailable, admin, group_lag
from clets_watch.kafka_security import kafka_client_kwargs
from clets_watch.settings import Settings
from clets_watch.stack import PROJECT_ROOT, Stack, StackConfig, StackError, free_port
from producers.kafka_out import produce
from producers.simulator import generate
from sinks.db import count_rows, verdict_counts
from tests.helpers import run_process
from tests.integration.workers import WorkerProcess, offline, worker_env
from tests.sinks.stores import Stores

KEY = "security-test-pseudonym-key"
SCRAM_USER, SCRAM_PASSWORD = "clets-worker", "scram-test-password-7c1f"
KEYSTORE_PASSWORD = "keystore-test-password"
START = dt.datetime.fromisoformat("2019-06-12T05:00:00-07:00")


# ------------------------------------------------------------------------------------------ certificates


@dataclass(frozen=True)
class Certificates:
    ca: Path  # PEM: the test CA clients trust
    kafka_keystore: Path  # PKCS12: broker key + chain, password KEYSTORE_PASSWORD
    server_cert: Path  # PEM: the same broker certificate, for PostgreSQL
    server_key: Path  # PEM: its unencrypted key
    other_ca: Path  # PEM: a CA that signed nothing here


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(common_name: str, now: dt.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_certificates(folder: Path) -> Certificates:
    """A test CA and a server certificate for localhost / 127.0.0.1 signed by it (valid for one day)."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key, ca_cert = _ca("clets-watch test CA", now)
    _other_key, other_cert = _ca("some other CA", now)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    certs = Certificates(
        ca=folder / "ca.pem",
        kafka_keystore=folder / "kafka.p12",
        server_cert=folder / "server.crt",
        server_key=folder / "server.key",
        other_ca=folder / "other-ca.pem",
    )
    certs.ca.write_bytes(ca_cert.public_bytes(pem))
    certs.other_ca.write_bytes(other_cert.public_bytes(pem))
    certs.server_cert.write_bytes(cert.public_bytes(pem))
    certs.server_key.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    certs.kafka_keystore.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"kafka", key, cert, [ca_cert], serialization.BestAvailableEncryption(KEYSTORE_PASSWORD.encode())
        )
    )
    return certs


# ------------------------------------------------------------------------------------------ services


@dataclass(frozen=True)
class SecureServices:
    stack: Stack
    certs: Certificates

    @property
    def bootstrap(self) -> str:
        return self.stack.kafka_sasl_ssl_bootstrap

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "kafka_bootstrap": self.bootstrap,
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": "SCRAM-SHA-512",
            "kafka_sasl_username": SCRAM_USER,
            "kafka_sasl_password": SCRAM_PASSWORD,
            "kafka_ssl_cafile": self.certs.ca,
        }
        values.update(overrides)
        return Settings(**values)

    def env(self) -> dict[str, str]:
        return {
            "CLETS_WATCH_KAFKA_BOOTSTRAP": self.bootstrap,
            "CLETS_WATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "CLETS_WATCH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "CLETS_WATCH_KAFKA_SASL_USERNAME": SCRAM_USER,
            "CLETS_WATCH_KAFKA_SASL_PASSWORD": SCRAM_PASSWORD,
            "CLETS_WATCH_KAFKA_SSL_CAFILE": str(self.certs.ca),
        }


@pytest.fixture(scope="module")
def secure() -> Iterator[SecureServices]:
    """A separate Kafka (PLAINTEXT + SASL_SSL listeners, SCRAM users) and a PostgreSQL with ssl=on.

    Its home is under the project's ``.clets-watch`` (not pytest's owner-only tmp folder), because
    PostgreSQL runs as the ``postgres`` user when the tests run as root.
    """
    root = PROJECT_ROOT / ".clets-watch" / f"test-secure-stack-{uuid.uuid4().hex[:8]}"
    certs = make_certificates(root / "tls")
    stack = Stack(
        StackConfig(
            home=root / "stack",
            kafka_port=free_port(),
            kafka_controller_port=free_port(),
            kafka_sasl_ssl_port=free_port(),
            postgres_port=free_port(),
            kafka_ssl_keystore=certs.kafka_keystore,
            kafka_ssl_keystore_password=KEYSTORE_PASSWORD,
            kafka_scram_users=((SCRAM_USER, SCRAM_PASSWORD),),
            postgres_ssl_cert=certs.server_cert,
            postgres_ssl_key=certs.server_key,
            fresh=True,
        )
    )
    try:
        stack.up(["kafka", "postgres"])
        yield SecureServices(stack, certs)
    finally:
        stack.down(["kafka", "postgres"])
        shutil.rmtree(root, ignore_errors=True)


def _listening_addresses(port: int) -> set[str]:
    """The local IPv4/IPv6 addresses a TCP socket LISTENs on at ``port`` (from /proc/net/tcp{,6})."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            host_hex, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A = LISTEN
                continue
            raw = bytes.fromhex(host_hex)
            # /proc prints each 32-bit word in host (little-endian) order
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            address = ipaddress.ip_address(words if width == 32 else words[:4])
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:  # Java: ::ffff:127.0.0.1
                address = address.ipv4_mapped
            found.add(str(address))
    return found


# ------------------------------------------------------------------------------------------ tests


@pytest.mark.integration
def test_raid_stream_through_sasl_ssl_and_the_worker(secure: SecureServices, tmp_path: Path) -> None:
    settings = secure.settings()
    security = kafka_client_kwargs(settings)
    queries = f"sec-q-{uuid.uuid4().hex[:8]}"
    items = list(
        generate(
            seed=7, start=START, duration=dt.timedelta(minutes=15), rate_per_second=1.0, scenarios=["raid"]
        )
    )
    sent = produce(items, bootstrap=secure.bootstrap, topic=queries, security=security)
    assert sent.topic_created and sent.sent == len(items)

    group = f"sec-{uuid.uuid4().hex[:8]}"
    db_url = f"sqlite:///{tmp_path / 'secure.db'}"
    metrics_port = free_port()
    env = worker_env(
        secure.bootstrap, queries, group, db_url, tmp_path / "home", metrics_port, key=KEY, **secure.env()
    )
    worker = WorkerProcess(env=env, log_path=tmp_path / "worker.log").start()
    sink = Stores.open(db_url)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert worker.alive(), (
                f"worker exited with {worker.proc.returncode if worker.proc else None}:\n{worker.log()[-4000:]}"
            )
            done = count_rows(sink.engine)["query_verdicts"] >= len(items)
            if done and group_lag(secure.bootstrap, group, queries, security=security) == 0:
                break
            assert time.monotonic() < deadline, (
                f"worker did not consume {queries} over SASL_SSL:\n{worker.log()[-4000:]}"
            )
            time.sleep(0.5)

        # Every event arrived through TLS + SCRAM, with the same verdicts and alert ids as the pure core.
        expected_verdicts, expected_alert_ids = offline(items, KEY)
        assert count_rows(sink.engine)["query_verdicts"] == len(items)
        stored = {a.alert_id: a for a in sink.alerts.list_alerts(limit=100_000)}
        assert set(stored) == expected_alert_ids
        assert any(a.rule == "prohibited_query" for a in stored.values()), "the raid must raise alerts"
        assert sum(verdict_counts(sink.engine).values()) == len(expected_verdicts)

        # The alerts went back out through the SASL_SSL listener too.
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(
            f"{queries}.alerts",
            bootstrap_servers=secure.bootstrap,
            auto_offset_reset="earliest",
            consumer_timeout_ms=5000,
            group_id=None,
            enable_auto_commit=False,
            **security,
        )
        try:
            forwarded = {json.loads(m.value)["alert_id"] for m in consumer}
        finally:
            consumer.close()
        assert forwarded == set(stored)

        # The metrics endpoint listens on loopback only and serves counters, never event data.
        assert _listening_addresses(metrics_port) == {"127.0.0.1"}
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as resp:
            body = resp.read().decode()
        assert "clets_watch_queries_total" in body
        leaks = set()
        for item in items:
            event = item.event
            values = [
                event["event_id"],
                event["operator_id"],
                *(str(v) for v in (event["subject"] or {}).values()),
            ]
            leaks |= {v for v in values if v and v in body}
        assert not leaks, f"/metrics shows event data: {sorted(leaks)[:5]}"
        assert SCRAM_PASSWORD not in worker.log()
    finally:
        worker.stop()
        sink.close()


@pytest.mark.integration
def test_clients_without_valid_credentials_are_refused(secure: SecureServices) -> None:
    quick = {"timeout_ms": 5000, "bootstrap_timeout_ms": 5000}

    def refusal(patience_ms: int = 5000, **overrides: Any) -> str:
        with pytest.raises(BrokerUnavailable) as caught:
            admin(
                secure.bootstrap,
                security=kafka_client_kwargs(secure.settings(**overrides)),
                timeout_ms=5000,
                bootstrap_timeout_ms=patience_ms,
            ).close()
        return str(caught.value)

    # the right credentials get in
    client = admin(secure.bootstrap, security=kafka_client_kwargs(secure.settings()), **quick)
    try:
        assert isinstance(client.list_topics(), list)
    finally:
        client.close()

    # the broker answers a failed login after a delay and the client backs off: give it a few attempts
    wrong_password = refusal(patience_ms=12_000, kafka_sasl_password="not-the-password")
    assert f"cannot connect to Kafka at {secure.bootstrap} over SASL_SSL" in wrong_password
    # the reason is the broker's "Authentication failed" or, when it closes first, the disconnect;
    # either way the message points at the credentials
    assert "SASL credentials" in wrong_password
    assert "Authentication failed" in wrong_password or "disconnected" in wrong_password.lower()
    assert "not-the-password" not in wrong_password

    untrusted = refusal(kafka_ssl_cafile=secure.certs.other_ca)
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted

    no_credentials = refusal(
        kafka_security_protocol="SSL", kafka_sasl_username=None, kafka_sasl_password=None
    )
    assert f"cannot connect to Kafka at {secure.bootstrap} over SSL" in no_credentials

    plaintext = refusal(
        kafka_security_protocol="PLAINTEXT",
        kafka_sasl_username=None,
        kafka_sasl_password=None,
        kafka_ssl_cafile=None,
    )
    assert f"no Kafka broker at {secure.bootstrap}" in plaintext


@pytest.mark.integration
def test_worker_with_the_wrong_password_exits_with_a_clear_error(
    secure: SecureServices, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        **secure.env(),
        "CLETS_WATCH_KAFKA_SASL_PASSWORD": "wrong-password-for-the-worker",
        "CLETS_WATCH_PSEUDONYM_KEY": KEY,
        "CLETS_WATCH_HOME": str(tmp_path / "home"),
        "CLETS_WATCH_DB_URL": f"sqlite:///{tmp_path / 'w.db'}",
        "CLETS_WATCH_METRICS_PORT": "0",
    }
    proc = run_process([sys.executable, "-m", "clets_watch.cli", "worker"], env=env, timeout=90)
    assert proc.returncode == 2, proc.stderr[-3000:]
    # The broker answers a failed SCRAM exchange with an error and closes the connection; the client
    # sees one or the other first. Either way the message must point at the credentials.
    assert ("Authentication failed" in proc.stderr and "over SASL_SSL" in proc.stderr) or (
        "cannot connect to Kafka" in proc.stderr and "SASL credentials" in proc.stderr
    ), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "wrong-password-for-the-worker" not in proc.stderr


@pytest.mark.integration
def test_database_sink_over_tls_verifies_the_server(secure: SecureServices) -> None:
    stack = secure.stack
    name = f"sec_{uuid.uuid4().hex[:8]}"
    plain_url = stack.create_database(name)
    url = f"{plain_url}?sslmode=verify-full&sslrootcert={secure.certs.ca}"
    sink = Stores.open(url)
    try:
        with sink.engine.connect() as conn:
            encrypted = conn.execute(
                text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            ).scalar_one()
        assert encrypted is True
        assert (
            count_rows(sink.engine)["query_verdicts"] == 0
        )  # the schema was migrated over the TLS connection
    finally:
        sink.close()

    # A server whose certificate does not chain to the trusted CA is refused, before any password is sent.
    with pytest.raises(Exception, match="certificate verify failed"):
        Stores.open(f"{plain_url}?sslmode=verify-full&sslrootcert={secure.certs.other_ca}")
    stack.drop_database(name)


@pytest.mark.integration
def test_services_listen_on_loopback_only(secure: SecureServices) -> None:
    c = secure.stack.config
    for port in (c.kafka_port, c.kafka_controller_port, c.kafka_sasl_ssl_port, c.postgres_port):
        assert port is not None
        assert _listening_addresses(port) == {"127.0.0.1"}, f"port {port}"
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    assert defaults["metrics_host"] == "127.0.0.1"
    assert str(defaults["kafka_bootstrap"]).startswith("127.0.0.1:")
    assert defaults["kafka_security_protocol"] == "PLAINTEXT"


def test_stack_refuses_a_sasl_ssl_listener_without_keystore_or_users(tmp_path: Path) -> None:
    no_keystore = Stack(StackConfig(home=tmp_path / "a", kafka_sasl_ssl_port=free_port()))
    with pytest.raises(StackError, match="needs a key store"):
        no_keystore._kafka_sasl_ssl_properties()
    keystore = tmp_path / "k.p12"
    keystore.write_bytes(b"x")
    no_users = Stack(
        StackConfig(home=tmp_path / "b", kafka_sasl_ssl_port=free_port(), kafka_ssl_keystore=keystore)
    )
    with pytest.raises(StackError, match="at least one SCRAM user"):
        no_users._kafka_sasl_ssl_properties()
    bad_user = Stack(StackConfig(home=tmp_path / "c", kafka_scram_users=(("a,b", "pw"),)))
    with pytest.raises(StackError, match="SCRAM user 'a,b'"):
        bad_user._kafka_scram_args()
    half_tls = Stack(StackConfig(home=tmp_path / "d", postgres_ssl_cert=keystore))
    with pytest.raises(StackError, match="needs both"):
        half_tls._postgres_ssl_args(tmp_path, None)


def test_production_worker_without_a_pseudonym_key_exits_2_without_a_broker(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLETS_WATCH_")}
    env.update(
        {
            "CLETS_WATCH_ENV": "production",
            "CLETS_WATCH_HOME": str(tmp_path / "home"),
            "CLETS_WATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{_closed_port()}",  # nothing there: must not be reached
            "CLETS_WATCH_DB_URL": f"sqlite:///{tmp_path / 'prod.db'}",
            "CLETS_WATCH_METRICS_PORT": "0",
        }
    )
    started = time.monotonic()
    proc = run_process([sys.executable, "-m", "clets_watch.cli", "worker"], env=env, timeout=60)
    took = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr
    assert "CLETS_WATCH_ENV=production needs an explicit pseudonym key" in proc.stderr
    assert "CLETS_WATCH_PSEUDONYM_KEY" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "home" / "pseudonym.key").exists(), "production must never create a key file"
    assert took < 20, f"took {took:.1f}s: the key check must come before any broker connection"
    assert re.search(r"^clets-watch worker: CLETS_WATCH_ENV=production needs", proc.stderr, re.MULTILINE)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
