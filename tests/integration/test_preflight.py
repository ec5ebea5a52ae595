"""Preflight on a real server: a constant number of queries, and the checks that stop a run early."""

from __future__ import annotations

from unittest import mock

import pytest

from lambdas.dal.database import Database
from lambdas.dal.secrets import Secrets
from lambdas.logic.preflight import preflight
from lambdas.shared.errors import LongTransactionBlocking

pytestmark = pytest.mark.integration


def count_queries(harness) -> tuple[int, list[str]]:
    calls = 0
    original = Database.rows

    def counting(self, sql, **params):
        nonlocal calls
        calls += 1
        return original(self, sql, **params)

    with mock.patch.object(Database, "rows", counting), harness.master() as db:
        plan = preflight(db, Secrets(), harness.setup, harness.target).plan
    return calls, plan


def test_preflight_makes_the_same_number_of_queries_for_5_or_300_tables(harness):
    few, _ = count_queries(harness)
    harness.sql(
        "DO $$ BEGIN FOR i IN 0..299 LOOP EXECUTE format('CREATE TABLE public.t%s (id int PRIMARY KEY)', i); "
        "END LOOP; END $$"
    )
    many, plan = count_queries(harness)
    assert many == few
    assert "grant SELECT on all tables in schema public to " + harness.setup.role_name in plan


def test_preflight_names_the_session_that_would_block_slot_creation(harness, monkeypatch):
    monkeypatch.setenv("LONG_TRANSACTION_SECONDS", "0")
    holder = harness.server.connect(harness.database)
    holder.run("BEGIN")
    holder.run("UPDATE public.orders SET total = total")
    pid = holder.run("SELECT pg_backend_pid()")[0][0]
    try:
        with pytest.raises(LongTransactionBlocking, match=f"pid {pid} "), harness.master() as db:
            preflight(db, Secrets(), harness.setup, harness.target)
    finally:
        holder.run("ROLLBACK")
        holder.close()


def test_read_only_sessions_do_not_count_as_blockers(harness, monkeypatch):
    monkeypatch.setenv("LONG_TRANSACTION_SECONDS", "0")
    reader = harness.server.connect(harness.database)
    reader.run("BEGIN")
    reader.run("SELECT count(*) FROM public.orders")
    try:
        with harness.master() as db:
            plan = preflight(db, Secrets(), harness.setup, harness.target).plan
        assert f"create replication slot {harness.setup.slot_name} (pgoutput)" in plan
    finally:
        reader.run("ROLLBACK")
        reader.close()


def test_slot_creation_gives_up_after_its_timeout_naming_the_blocker(harness, monkeypatch):
    monkeypatch.setenv("SLOT_TIMEOUT_MS", "500")
    harness.configure()  # CreateSlot follows ConfigureDatabase: the slot is recorded in the user's marker
    holder = harness.server.connect(harness.database)
    holder.run("BEGIN")
    holder.run("UPDATE public.orders SET total = total")
    pid = holder.run("SELECT pg_backend_pid()")[0][0]
    try:
        with pytest.raises(LongTransactionBlocking, match=f"pid {pid} "):
            harness.create_slot()
        assert harness.sql(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = :s", s=harness.setup.slot_name
        ) == [[0]]
    finally:
        holder.run("ROLLBACK")
        holder.close()
    assert harness.create_slot().changes  # once the transaction ends, the same call succeeds


def test_ddl_gives_up_on_a_locked_table_instead_of_queueing_production_behind_it(harness, monkeypatch):
    monkeypatch.setenv("LOCK_TIMEOUT_MS", "300")
    harness.sql("CREATE TABLE public.audit_log (at timestamptz, line text)")
    holder = harness.server.connect(harness.database)
    holder.run("BEGIN")
    holder.run("LOCK TABLE public.audit_log IN ACCESS SHARE MODE")  # a long SELECT, say
    pid = holder.run("SELECT pg_backend_pid()")[0][0]
    try:
        with pytest.raises(LongTransactionBlocking, match=f"pid {pid} .*AccessShareLock on audit_log"):
            harness.configure(replica_identity="full")  # ALTER TABLE needs ACCESS EXCLUSIVE
    finally:
        holder.run("ROLLBACK")
        holder.close()
    assert harness.sql("SELECT count(*) FROM pg_roles WHERE rolname = :u", u=harness.setup.user_name) == [[0]]


def test_heartbeat_auto_is_a_logical_message_from_14_and_keeps_a_table_an_earlier_setup_made(harness):
    auto = harness.setup.model_copy(update={"heartbeat": "auto"})
    messages = harness.server.major_version >= 14
    with harness.master() as db:
        first = preflight(db, Secrets(), auto, harness.target)
    assert first.heartbeat == ("message" if messages else "table")
    [line] = [line for line in first.plan if line.startswith("heartbeat (auto)")]
    assert ("no heartbeat table" in line) is messages
    # Its plan is that of the chosen mode: the heartbeat table only when it is chosen.
    assert any("streamkap_heartbeat" in line for line in first.plan if line != line_of(first)) is not messages

    harness.configure(heartbeat="table")  # an earlier setup with the table: its connector writes there
    with harness.master() as db:
        again = preflight(db, Secrets(), auto, harness.target)
    assert again.heartbeat == "table"
    assert line_of(again).startswith("heartbeat (auto): table streamkap.streamkap_heartbeat (")

    with harness.master() as db:  # a mode given is kept, and says nothing of "auto"
        given = preflight(db, Secrets(), harness.setup.model_copy(update={"heartbeat": "table"}), harness.target)
    assert given.heartbeat == "table" and not any(line.startswith("heartbeat (auto)") for line in given.plan)


def line_of(result) -> str:
    [line] = [line for line in result.plan if line.startswith("heartbeat (auto)")]
    return line
