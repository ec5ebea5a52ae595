"""TLS settings of the database port: verify-full on AWS against the RDS CA bundle the asset ships
(or a self-managed target's own CA), never the system store; plainly off for the local stack.
tests/integration/test_tls.py connects to a real server with TLS on."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pg8000.exceptions import InterfaceError

from lambdas.dal import database
from lambdas.shared.errors import TlsFailure
from tests.certs import ca_pem


@pytest.fixture
def verify_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_TLS", "verify-full")


def test_tls_disabled_means_no_tls_attempt_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    # pg8000 reads None as "prefer": an unverified TLS attempt; False is no TLS.
    monkeypatch.setenv("DB_TLS", "disable")
    assert database._ssl_context() is False


def test_verify_full_trusts_the_rds_ca_bundle_only_and_checks_the_host_name(
    verify_full: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "rds-ca-bundle.pem"
    bundle.write_bytes(ca_pem("Amazon RDS test Root CA RSA2048 G1"))
    monkeypatch.setattr(database, "CA_BUNDLE", bundle)

    context = database._ssl_context()

    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [dict(rdn) for cert in context.get_ca_certs() for rdn in cert["subject"]] == [
        {"commonName": "Amazon RDS test Root CA RSA2048 G1"}
    ]
    assert database._ssl_context() is context  # loaded once per container (~60 ms for the real bundle)


def test_without_the_bundle_no_connection_is_made_rather_than_trusting_the_system_store(
    verify_full: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "CA_BUNDLE", tmp_path / "absent.pem")
    with pytest.raises(TlsFailure, match=r"holds no RDS CA bundle .*no connection was made. Deploy again"):
        database._ssl_context()


def test_a_self_managed_target_s_ca_replaces_the_bundle(
    verify_full: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "CA_BUNDLE", tmp_path / "absent.pem")  # not needed with its own CA
    context = database._ssl_context(ca_pem("Team CA").decode())
    assert isinstance(context, ssl.SSLContext) and context.check_hostname
    assert [dict(rdn) for cert in context.get_ca_certs() for rdn in cert["subject"]] == [{"commonName": "Team CA"}]


def refused(code: int, message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message}")
    error.verify_code, error.verify_message = code, message
    return error


@pytest.mark.parametrize(
    ("error", "ca_certificate", "says"),
    [
        (refused(20, "unable to get local issuer certificate"), None, "CACertificateIdentifier"),
        (refused(20, "unable to get local issuer certificate"), "PEM", "Give in ca_certificate the CA"),
        (refused(62, "Hostname mismatch, certificate is not valid for 'db'."), None, "endpoint RDS gives"),
        (refused(10, "certificate has expired"), None, "--ca-certificate-identifier rds-ca-rsa2048-g1"),
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), None, "failed during the handshake"),
        (InterfaceError("Server refuses SSL"), "PEM", "does not accept TLS connections"),
    ],
    ids=["rds-unknown-ca", "own-ca-unknown", "host-name", "expired", "handshake", "no-tls"],
)
def test_tls_errors_are_tls_failures_that_say_what_to_do(
    error: Exception, ca_certificate: str | None, says: str
) -> None:
    failure = database.tls_failure(error, host="db", port=5432, ca_certificate=ca_certificate)
    assert isinstance(failure, TlsFailure)
    assert says in str(failure) and "db:5432" in str(failure)
    assert "security group" not in str(failure)


@pytest.mark.parametrize("error", [ConnectionRefusedError(), TimeoutError(), InterfaceError("network error")])
def test_network_errors_are_not_tls_failures(error: Exception) -> None:
    assert database.tls_failure(error, host="db", port=5432, ca_certificate=None) is None
