"""Timeouts and lost connections on a real PostgreSQL: every network error is named, and a
CreateSlot whose client gave up leaves no slot behind (issue 13, finding 1)."""

from __future__ import annotations

import socket
import time

import pytest

from lambdas.dal.database import Database
from lambdas.dal.secrets import Credentials
from lambdas.logic.database_apply import create_slot
from lambdas.shared.errors import DatabaseUnreachable, LongTransactionBlocking, TransientFailure


def slots(harness, name: str) -> list[list]:
    return harness.admin_sql("SELECT active, active_pid FROM pg_replication_slots WHERE slot_name = :s", s=name)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_read_is_not_bound_by_the_connect_timeout(harness, monkeypatch):
    # Given a 1 s connect timeout (pg8000 used to apply it to every read)
    monkeypatch.setenv("DB_CONNECT_TIMEOUT_SECONDS", "1")
    with harness.master() as db:
        # Then a statement answering after 2 s is read, within the socket timeout
        assert db.value("SELECT 1 FROM pg_sleep(2)") == 1


def test_no_answer_within_the_socket_timeout_is_a_named_error_and_the_connection_stays_lost(harness, monkeypatch):
    monkeypatch.setenv("DB_CONNECT_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("DB_SOCKET_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("LOCK_TIMEOUT_MS", "1000")
    monkeypatch.setenv("SLOT_TIMEOUT_MS", "1000")
    monkeypatch.setenv("PEEK_TIMEOUT_MS", "1000")
    with harness.master() as db:
        with pytest.raises(TransientFailure, match="lost the connection .*no answer within 2s"):
            db.value("SELECT pg_sleep(4)")
        assert not db.usable
        # A later statement (a RESET in a finally) says so by name, without touching the dead socket.
        with pytest.raises(TransientFailure, match="already lost"):
            db.execute("RESET statement_timeout")


def test_nothing_listening_is_a_transient_not_ready(harness):
    with pytest.raises(TransientFailure, match="refused the connection") as refused:
        Database.connect(
            host="127.0.0.1",
            port=free_port(),
            database=harness.database,
            credentials=Credentials(harness.server.master_user, harness.server.master_password),
        )
    assert refused.value.database_not_ready


def test_a_wrong_password_is_not_transient(harness):
    with pytest.raises(DatabaseUnreachable):
        Database.connect(
            host=harness.server.host,
            port=harness.server.port,
            database=harness.database,
            credentials=Credentials(harness.server.master_user, "wrong"),
        )


@pytest.fixture
def write_transaction(harness):
    """A short write transaction, open while CreateSlot runs: slot creation waits for it."""
    holder = harness.server.connect(harness.database)
    holder.run("BEGIN")
    holder.run("UPDATE public.orders SET total = total")
    yield holder
    if holder._usock is not None:
        holder.run("ROLLBACK")
        holder.close()


def test_slot_creation_outlasting_the_socket_timeout_leaves_no_slot_behind(harness, write_transaction):
    """The original failure: the client stops reading while the server still waits to create the
    slot, and the server would create it once the write transaction ends. Now CreateSlot ends its
    stranded session over a new connection, so the slot never appears, and says so."""
    harness.configure()
    name = harness.setup.slot_name
    with harness.master() as db:
        creating_pid = db.backend_pid
        db.set_read_timeout(1)  # a network that stops answering, below the 30 s statement timeout
        with pytest.raises(TransientFailure) as failed:
            create_slot(db, harness.setup, harness.target, harness.master)
    message = str(failed.value)
    assert f"Creating slot {name} failed" in message and "no answer" in message
    assert f"No slot {name} was left behind (ended the session still creating it, pid {creating_pid})" in message
    assert harness.admin_sql("SELECT count(*) FROM pg_stat_activity WHERE pid = :p", p=creating_pid) == [[0]]
    # When the write transaction ends, nothing creates the slot any more
    write_transaction.run("COMMIT")
    assert slots(harness, name) == []
    # and the step's retry creates it.
    assert harness.create_slot().changes == [f"created replication slot {name} (pgoutput)"]


def test_a_slot_the_server_finished_after_the_client_gave_up_is_dropped_and_named(harness, write_transaction):
    harness.configure()
    name = harness.setup.slot_name

    def reconnect_once_the_server_finished() -> Database:
        # The write transaction ends between the lost read and the look: the server completes the slot.
        write_transaction.run("COMMIT")
        for _ in range(200):
            if slots(harness, name) and not slots(harness, name)[0][0]:
                break
            time.sleep(0.05)
        assert slots(harness, name) and not slots(harness, name)[0][0], "the server did not finish the slot"
        return harness.master()

    with harness.master() as db:
        db.set_read_timeout(1)
        with pytest.raises(TransientFailure) as failed:
            create_slot(db, harness.setup, harness.target, reconnect_once_the_server_finished)
    assert f"Slot {name} had been created by this step after all" in str(failed.value)
    assert "dropped" in str(failed.value)
    assert slots(harness, name) == []


def test_a_server_side_timeout_says_no_slot_was_left(harness, write_transaction, monkeypatch):
    # Given short, nested settings: the server cancels (1 s) well before the client stops reading (3 s)
    monkeypatch.setenv("DB_CONNECT_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("DB_SOCKET_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("LOCK_TIMEOUT_MS", "1000")
    monkeypatch.setenv("SLOT_TIMEOUT_MS", "1000")
    monkeypatch.setenv("PEEK_TIMEOUT_MS", "1000")
    harness.configure()
    pid = write_transaction.run("SELECT pg_backend_pid()")[0][0]
    with pytest.raises(LongTransactionBlocking, match=f"pid {pid} .*No slot {harness.setup.slot_name} was left behind"):
        harness.create_slot()
    write_transaction.run("COMMIT")
    assert slots(harness, harness.setup.slot_name) == []
