"""Verify beside a live connector (pg_recvlogical streaming the slot as the CDC user): an active
slot cannot be peeked, so readiness is the connector confirming Verify's heartbeat."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lambdas.dal.database import Database
from lambdas.logic import verify as verify_module
from lambdas.logic.verify import verify
from lambdas.shared.errors import VerificationFailed
from tests.live_connector import LiveConnector, live_connector, slot_state
from tests.snapshots import catalog


@pytest.fixture
def streaming(harness, tmp_path) -> Iterator[tuple[object, object, LiveConnector]]:
    configured = harness.configure()
    harness.create_slot()
    creds = harness.user_credentials(configured.secret_arn)
    with live_connector(
        harness.server,
        database=harness.database,
        user=creds.username,
        password=creds.password,
        output=tmp_path / "received.bin",
        slot=harness.setup.slot_name,
    ) as connector:
        yield harness, configured, connector


def as_user(harness, configured) -> Database:
    creds = harness.user_credentials(configured.secret_arn)
    return Database.connect(
        host=harness.server.host, port=harness.server.port, database=harness.database, credentials=creds
    )


def test_an_active_slot_is_proven_by_the_connector_confirming_the_heartbeat(streaming):
    harness, configured, connector = streaming
    before = connector.confirmed_lsn

    with as_user(harness, configured) as db:
        result = verify(db, harness.setup, configured)

    assert result.proof == "live" and not result.peek_ok and result.heartbeat_seen
    assert result.published_tables == configured.published_tables
    after = harness.admin_sql(
        "SELECT pg_wal_lsn_diff(confirmed_flush_lsn, CAST(:b AS pg_lsn)) > 0 FROM pg_replication_slots "
        "WHERE slot_name = :s",
        b=before,
        s=harness.setup.slot_name,
    )
    assert after == [[True]]  # the connector confirmed past where it stood
    assert b"streamkap_heartbeat" in connector.received()  # and it received the heartbeat (its relation)
    assert connector.process.poll() is None  # left streaming


def test_a_connector_that_never_confirms_is_verification_failed_naming_slot_pid_and_lag(streaming, monkeypatch):
    harness, configured, connector = streaming
    monkeypatch.setattr(verify_module, "LIVE_CONFIRM_SECONDS", 3)
    connector.pause()
    pid = connector.pid
    with as_user(harness, configured) as db:
        sql_before = catalog(harness.server, harness.database)
        heartbeat_before = harness.sql("SELECT id, ts FROM streamkap.streamkap_heartbeat")

        with pytest.raises(VerificationFailed) as failed:
            verify(db, harness.setup, configured)

    message = str(failed.value)
    assert harness.setup.slot_name in message and f"process {pid}" in message
    assert "bytes behind" in message and "within 3s" in message
    # Nothing changed but the heartbeat row: the catalog, the slot (still streamed) and its position.
    assert catalog(harness.server, harness.database) == sql_before
    assert slot_state(harness.server, harness.database, harness.setup.slot_name)[:2] == [True, pid]
    heartbeat_after = harness.sql("SELECT id, ts FROM streamkap.streamkap_heartbeat")
    assert [row[0] for row in heartbeat_after] == [1] and heartbeat_after != heartbeat_before


def test_an_idle_slot_is_still_proven_by_a_peek(harness):
    configured = harness.configure()
    harness.create_slot()

    with as_user(harness, configured) as db:
        result = verify(db, harness.setup, configured)

    assert result.proof == "peek" and result.peek_ok and result.heartbeat_seen
