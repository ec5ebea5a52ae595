"""verify-full against a real server with TLS on: the local stack runs without TLS (DB_TLS=disable),
so this file starts its own self-managed server with ssl=on and a certificate from a throw-away CA
(for `localhost` only), and connects the way the Lambda steps do."""

from __future__ import annotations

import datetime
import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from lambdas.dal import database
from lambdas.dal.database import Database
from lambdas.dal.secrets import Credentials
from lambdas.shared.errors import TlsFailure
from local.postgres_server import LocalPostgres
from tests.certs import make_ca, name

pytestmark = pytest.mark.integration


def server_certificate(ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for `localhost` only: connecting to 127.0.0.1 is a host name mismatch."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


CA_KEY, CA = make_ca("rds-cdc-setup test CA")
_, OTHER_CA = make_ca("Some other CA")


@pytest.fixture(scope="module")
def tls_server() -> Iterator[LocalPostgres]:
    server = LocalPostgres(rds_like=False)
    cert_pem, key_pem = server_certificate(CA_KEY, CA)
    cert_file, key_file = server.root / "server.crt", server.root / "server.key"
    cert_file.write_bytes(cert_pem)
    key_file.write_bytes(key_pem)
    key_file.chmod(0o600)  # PostgreSQL refuses a key others may read
    if os.geteuid() == 0:
        for path in (cert_file, key_file):
            os.chown(path, pwd.getpwnam("postgres").pw_uid, -1)
    server.settings.update(ssl="on", ssl_cert_file=str(cert_file), ssl_key_file=str(key_file))
    server.init().start()
    yield server
    server.destroy()


@pytest.fixture(autouse=True)
def verify_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_TLS", "verify-full")


def connect(server: LocalPostgres, *, host: str = "localhost", ca_certificate: str | None = None) -> Database:
    return Database.connect(
        host=host,
        port=server.port,
        database="postgres",
        credentials=Credentials(server.master_user, server.master_password),
        ca_certificate=ca_certificate,
    )


def test_verify_full_with_the_server_s_ca_connects_over_tls(tls_server: LocalPostgres) -> None:
    with connect(tls_server, ca_certificate=pem(CA)) as db:
        assert db.value("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is True


def test_another_ca_is_a_tls_failure_that_says_which_ca_to_give(tls_server: LocalPostgres) -> None:
    with pytest.raises(TlsFailure) as raised:
        connect(tls_server, ca_certificate=pem(OTHER_CA))
    message = str(raised.value)
    assert "certificate verify failed" in message and "ca_certificate" in message
    assert "security group" not in message


def test_a_name_the_certificate_does_not_hold_is_a_tls_failure(tls_server: LocalPostgres) -> None:
    with pytest.raises(TlsFailure, match=r"IP address mismatch.*subjectAltName"):
        connect(tls_server, host="127.0.0.1", ca_certificate=pem(CA))


def test_the_rds_ca_bundle_verifies_when_no_ca_certificate_is_given(
    tls_server: LocalPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a bundle that holds the server's CA, then one that does not
    bundle = tmp_path / "rds-ca-bundle.pem"
    bundle.write_text(pem(CA))
    monkeypatch.setattr(database, "CA_BUNDLE", bundle)
    with connect(tls_server) as db:
        assert db.value("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is True

    other = tmp_path / "other-bundle.pem"
    other.write_text(pem(OTHER_CA))
    monkeypatch.setattr(database, "CA_BUNDLE", other)
    with pytest.raises(TlsFailure, match=r"against the RDS CA bundle .*rds_ca_bundle"):
        connect(tls_server)


def test_a_server_without_tls_is_a_tls_failure(pg_server: LocalPostgres) -> None:
    # The suite's shared server runs without TLS, as the local stack does
    with pytest.raises(TlsFailure, match="does not accept TLS connections"):
        connect(pg_server, host=pg_server.host, ca_certificate=pem(CA))
