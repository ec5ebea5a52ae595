"""TLS settings of the database port: verify-full on AWS, plainly off for the local stack."""

from __future__ import annotations

import ssl

import pytest

from lambdas.dal import database


def test_tls_disabled_means_no_tls_attempt_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    # pg8000 reads None as "prefer": an unverified TLS attempt; False is no TLS.
    monkeypatch.setenv("DB_TLS", "disable")
    assert database._ssl_context() is False


def test_verify_full_checks_the_certificate_and_the_host_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_TLS", "verify-full")
    context = database._ssl_context()
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
