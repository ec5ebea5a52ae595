"""Kill ConfigureDatabase / CreateSlot before each of their SQL statements in turn, then run
again: every interrupted run converges to the end state of an uninterrupted one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import pytest
from moto import mock_aws

from lambdas.dal.database import Database
from lambdas.dal.secrets import Credentials, Secrets
from lambdas.logic.database_apply import configure_database, create_slot
from local.postgres_server import LocalPostgres
from tests.integration.conftest import SAMPLE_SCHEMA, local_setup, run_script
from tests.snapshots import catalog

pytestmark = pytest.mark.integration

DATABASE, USER, ROLE, SLOT = "crash_db", "crash_user", "crash_role", "crash_slot"


class SimulatedCrash(Exception):
    """Stands for a Lambda killed (timeout, OOM) at this point."""


@contextmanager
def fresh_database(server: LocalPostgres) -> Iterator[None]:
    server.create_database(DATABASE)
    run_script(server, DATABASE, SAMPLE_SCHEMA)
    try:
        yield
    finally:
        conn = server.connect_admin()  # clean-up as the superuser: the master may not drop others' roles (PG16+)
        conn.run("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = :s", s=SLOT)
        conn.close()
        server.drop_database(DATABASE)  # every major: WITH (FORCE) needs PG13
        conn = server.connect_admin()
        conn.run(f"DROP ROLE IF EXISTS {USER}")
        conn.run(f"DROP ROLE IF EXISTS {ROLE}")
        conn.close()


def run_setup(server: LocalPostgres) -> None:
    """ConfigureDatabase then CreateSlot, each on its own connection, as the Lambdas do."""
    master = Credentials(server.master_user, server.master_password)
    setup, target = local_setup(
        server, DATABASE, user=USER, role=ROLE, slot=SLOT, master_secret_arn="not-read: the steps get connections here"
    )
    with Database.connect(host=server.host, port=server.port, database=DATABASE, credentials=master) as db:
        configure_database(db, Secrets(), setup, target)
    with Database.connect(host=server.host, port=server.port, database=DATABASE, credentials=master) as db:
        create_slot(db, setup, target)


def statements_in_a_clean_run(server: LocalPostgres) -> tuple[int, dict]:
    executed = 0
    original = Database.execute

    def counting(self, sql, **params):
        nonlocal executed
        executed += 1
        return original(self, sql, **params)

    with mock_aws(), fresh_database(server), mock.patch.object(Database, "execute", counting):
        run_setup(server)
        return executed, catalog(server, DATABASE, password_hashes=False)  # each run, a new password


def test_a_run_killed_before_any_statement_converges_when_run_again(pg_server):
    total, reference = statements_in_a_clean_run(pg_server)
    assert total >= 20  # every GRANT/CREATE of the plan, plus the slot's statements
    original = Database.execute
    for crash_at in range(1, total + 1):
        calls = [0]

        def crashing(self, sql, crash_at=crash_at, calls=calls, **params):
            calls[0] += 1
            if calls[0] == crash_at:
                raise SimulatedCrash(f"killed before statement {crash_at}: {sql.split()[0]}")
            return original(self, sql, **params)

        with mock_aws(), fresh_database(pg_server):
            with mock.patch.object(Database, "execute", crashing), pytest.raises(SimulatedCrash):
                run_setup(pg_server)
            run_setup(pg_server)
            assert catalog(pg_server, DATABASE, password_hashes=False) == reference, (
                f"diverged after a crash at statement {crash_at}"
            )
