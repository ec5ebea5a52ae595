"""ConfigureDatabase and CreateSlot on a real PostgreSQL, checked by logging in as the new user."""

from __future__ import annotations

import pytest
from pg8000.exceptions import DatabaseError

from lambdas.dal import sql
from lambdas.dal.database import Database
from lambdas.dal.secrets import Secrets
from lambdas.logic.preflight import MESSAGE_HEARTBEAT_MAJOR, preflight
from lambdas.logic.verify import verify
from lambdas.shared.errors import (
    InvalidInput,
    NotOwned,
    PublicationConflict,
    ReplicaIdentityMissing,
    SlotConflict,
    VerificationFailed,
)
from tests.integration.conftest import SAMPLE_SCHEMA, harness_on, run_script

pytestmark = pytest.mark.integration


def sqlstate(error: DatabaseError) -> str:
    return error.args[0]["C"]


def test_given_a_stock_database_when_configured_then_the_user_can_do_what_streamkap_needs(harness):
    configured = harness.configure()
    harness.create_slot()

    user = harness.as_user(configured.secret_arn)
    try:
        assert user.run("SELECT count(*) FROM public.orders") == [[2]]
        assert user.run("SELECT count(*) FROM public.events") == [[0]]
        assert user.run("SELECT count(*) FROM inventory.stock") == [[0]]
        user.run("INSERT INTO streamkap.streamkap_signal (id, type, data) VALUES ('s1', 'execute-snapshot', '{}')")
        user.run("UPDATE streamkap.streamkap_signal SET data = 'x' WHERE id = 's1'")
        peeked = user.run(
            "SELECT count(*) FROM pg_logical_slot_peek_binary_changes(:s, NULL, 10, 'proto_version', '1', "
            "'publication_names', 'streamkap_pub')",
            s=harness.setup.slot_name,
        )
        assert peeked[0][0] > 0  # the signal writes above are in the slot
    finally:
        user.close()

    # PG10-12 cannot publish a partitioned table: its leaf partitions are published instead.
    events = ["public.events"] if harness.server.major_version >= 13 else ["public.events_2025", "public.events_2026"]
    assert sorted(configured.tables_csv.splitlines()) == sorted(
        ["inventory.stock", *events, "public.items", "public.orders"]
    )
    assert configured.user_tables == 3 + len(events)
    assert configured.published_tables == configured.user_tables + len(harness.setup.own_tables)


def test_given_a_configured_database_the_user_cannot_write_data_or_change_schema(harness):
    configured = harness.configure()
    user = harness.as_user(configured.secret_arn)
    try:
        for statement in (
            "INSERT INTO public.orders VALUES (3, 'eve', 1)",
            "DELETE FROM public.orders",
            "DROP TABLE public.orders",
            "CREATE ROLE intruder",
            "ALTER TABLE public.orders ADD COLUMN x int",
        ):
            with pytest.raises(DatabaseError) as raised:
                user.run(statement)
            assert sqlstate(raised.value) == "42501", statement  # insufficient_privilege
    finally:
        user.close()


def test_tables_created_later_are_readable_through_default_privileges(harness):
    configured = harness.configure()
    harness.sql("CREATE TABLE public.refunds (id int PRIMARY KEY)")
    user = harness.as_user(configured.secret_arn)
    try:
        assert user.run("SELECT count(*) FROM public.refunds") == [[0]]
    finally:
        user.close()


def test_self_managed_postgresql_gets_the_replication_attribute_on_the_user(self_managed_server):
    # No rds_replication on self-managed PostgreSQL: the attribute is the only way to replicate.
    self_managed_server.restart(wal_level="logical")
    self_managed_server.create_database("orders")
    run_script(self_managed_server, "orders", SAMPLE_SCHEMA)
    with harness_on(self_managed_server, "orders") as harness:
        configured = harness.configure()
        assert f"give {harness.setup.user_name} the REPLICATION attribute (self-managed PostgreSQL)" in (
            configured.changes
        )
        rows = harness.sql(
            "SELECT rolname::text, rolreplication FROM pg_roles WHERE rolname IN (:u, :r)",
            u=harness.setup.user_name,
            r=harness.setup.role_name,
        )
    # Attributes are not inherited through the role, so it must sit on the login user.
    assert dict(rows) == {harness.setup.user_name: True, harness.setup.role_name: False}


def test_on_rds_the_role_is_granted_rds_replication_instead(harness):
    configured = harness.configure()
    assert f"grant rds_replication to {harness.setup.role_name}" in configured.changes
    members = harness.sql(
        """SELECT g.rolname::text FROM pg_auth_members am JOIN pg_roles m ON m.oid = am.member
           JOIN pg_roles g ON g.oid = am.roleid WHERE m.rolname = :r""",
        r=harness.setup.role_name,
    )
    assert members == [["rds_replication"]]
    # The workflow never sets the attribute itself on RDS (the master could not: it has no REPLICATION).
    assert not any("REPLICATION attribute" in change for change in configured.changes)


def test_a_second_run_changes_nothing_and_runs_no_ddl(harness):
    first = harness.configure()
    harness.create_slot()
    log_before = len(harness.server.log_text())

    second = harness.configure()
    slot = harness.create_slot()

    assert first.changes and second.changes == [] and slot.changes == []
    new_log = harness.server.log_text()[log_before:]
    assert "statement: CREATE" not in new_log and "statement: GRANT" not in new_log
    assert "statement: ALTER" not in new_log


def test_the_generated_password_never_reaches_the_server_log(harness):
    configured = harness.configure()
    password = harness.user_credentials(configured.secret_arn).password
    log = harness.server.log_text()
    assert "SCRAM-SHA-256$" in log  # DDL logging is on, and it saw only the verifier
    assert password not in log


def test_partitioned_tables_are_published_through_their_root(harness):
    harness.configure()
    published = harness.sql(
        "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = :p", p="streamkap_pub"
    )
    names = sorted(row[0] for row in published)
    if harness.server.major_version >= 13:
        assert "public.events" in names and "public.events_2025" not in names
        assert harness.sql("SELECT pubviaroot FROM pg_publication WHERE pubname = 'streamkap_pub'") == [[True]]
    else:  # PG10-12: no publish_via_partition_root, and a partitioned table cannot be published: its leaves are
        assert {"public.events_2025", "public.events_2026"} <= set(names) and "public.events" not in names
    assert "streamkap.streamkap_signal" in names and "streamkap.streamkap_heartbeat" in names


def test_table_without_primary_key_fails_the_check_and_changes_nothing(harness):
    harness.sql("CREATE TABLE public.audit_log (at timestamptz, line text)")
    with pytest.raises(ReplicaIdentityMissing, match="public.audit_log"):
        harness.configure()
    assert harness.sql(
        "SELECT count(*) FROM pg_roles WHERE rolname IN (:u, :r)", u=harness.setup.user_name, r=harness.setup.role_name
    ) == [[0]]
    assert harness.sql("SELECT count(*) FROM pg_publication") == [[0]]
    assert harness.sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'streamkap'") == [[0]]


def test_replica_identity_full_policy_sets_it_on_tables_without_keys(harness):
    harness.sql("CREATE TABLE public.audit_log (at timestamptz, line text)")
    configured = harness.configure(replica_identity="full")
    assert "set REPLICA IDENTITY FULL on public.audit_log" in configured.changes
    assert harness.sql("SELECT relreplident::text FROM pg_class WHERE relname = 'audit_log'") == [["f"]]


def test_replica_identity_full_locks_the_application_out_only_after_the_publication_is_built(harness, monkeypatch):
    """ALTER TABLE ... REPLICA IDENTITY FULL holds ACCESS EXCLUSIVE until ConfigureDatabase commits: run
    last, the application's writes wait for the ALTERs and the COMMIT, not also for CREATE PUBLICATION
    over every table (bench/live_load.py measured 2.1 s of blocked writes at 10,000 tables)."""
    harness.sql("CREATE TABLE public.audit_log (at timestamptz, line text)")
    app = harness.server.connect(harness.database)
    seen: dict[str, list[list[object]]] = {}
    execute = Database.execute

    def watching(db: Database, sql: str, **params) -> None:
        if "CREATE PUBLICATION" in sql:  # what an application writing to audit_log meets right now
            app.run("BEGIN")
            seen["app"] = app.run(
                "SELECT count(*) FROM pg_locks WHERE relation = 'public.audit_log'::regclass "
                "AND mode = 'AccessExclusiveLock' AND pid <> pg_backend_pid()"
            )
            app.run("LOCK TABLE public.audit_log IN ROW EXCLUSIVE MODE NOWAIT")  # an INSERT's lock, or fail
            app.run("ROLLBACK")
        execute(db, sql, **params)

    monkeypatch.setattr(Database, "execute", watching)
    try:
        configured = harness.configure(replica_identity="full")
    finally:
        app.close()
    assert seen == {"app": [[0]]}
    assert configured.changes[-1] == "set REPLICA IDENTITY FULL on public.audit_log"
    assert harness.sql("SELECT relreplident::text FROM pg_class WHERE relname = 'audit_log'") == [["f"]]


def test_replica_identity_ignore_policy_publishes_as_is(harness):
    harness.sql("CREATE TABLE public.audit_log (at timestamptz, line text)")
    configured = harness.configure(replica_identity="ignore")
    assert "public.audit_log" in configured.tables_csv.splitlines()
    assert harness.sql("SELECT relreplident::text FROM pg_class WHERE relname = 'audit_log'") == [["d"]]


def test_listed_tables_only_are_published_and_readable(harness):
    configured = harness.configure(tables=["public.orders"])
    assert configured.tables_csv == "public.orders\n" and configured.user_tables == 1
    user = harness.as_user(configured.secret_arn)
    try:
        assert user.run("SELECT count(*) FROM public.orders") == [[2]]
        with pytest.raises(DatabaseError):
            user.run("SELECT count(*) FROM public.items")
    finally:
        user.close()


def test_missing_schema_or_table_is_invalid_input_and_changes_nothing(harness):
    with pytest.raises(InvalidInput, match="nope"):
        harness.configure(schemas=["public", "nope"])
    with pytest.raises(InvalidInput, match="public.ghost"):
        harness.configure(tables=["public.ghost"])
    assert harness.sql("SELECT count(*) FROM pg_roles WHERE rolname = :u", u=harness.setup.user_name) == [[0]]


def test_existing_slot_with_another_plugin_is_a_conflict(harness):
    harness.sql("SELECT pg_create_logical_replication_slot(:s, 'test_decoding')", s=harness.setup.slot_name)
    with pytest.raises(SlotConflict, match="test_decoding"):
        harness.create_slot()


def test_someone_elses_publication_is_refused_and_when_adopted_still_not_stripped_of_tables(harness):
    harness.sql("CREATE TABLE public.secret_stuff (id int PRIMARY KEY)")
    harness.sql("CREATE PUBLICATION streamkap_pub FOR TABLE public.secret_stuff")
    with pytest.raises(NotOwned, match=r"publication streamkap_pub.*adopt: \['publication'\]"):
        harness.configure(tables=["public.orders"])
    with pytest.raises(PublicationConflict, match="public.secret_stuff"):
        harness.configure(tables=["public.orders"], adopt=["publication"])


def test_verify_as_the_user_sees_its_heartbeat_in_a_bounded_peek(harness):
    configured = harness.configure()
    harness.create_slot()
    creds = harness.user_credentials(configured.secret_arn)
    with Database.connect(
        host=harness.server.host, port=harness.server.port, database=harness.database, credentials=creds
    ) as db:
        result = verify(db, harness.setup, configured)
    assert result.peek_ok and result.heartbeat_seen and result.wal_level == "logical"
    assert result.published_tables == configured.published_tables
    # Peeking never consumes: the slot still holds the heartbeat.
    remaining = harness.sql(
        "SELECT count(*) FROM pg_logical_slot_peek_binary_changes(:s, NULL, NULL, "
        "'proto_version', '1', 'publication_names', 'streamkap_pub')",
        s=harness.setup.slot_name,
    )
    assert remaining[0][0] >= 3


def test_a_message_heartbeat_needs_no_table_and_is_seen_in_the_peek_from_postgresql_14(harness):
    harness.setup = harness.setup.model_copy(update={"heartbeat": "message"})
    if harness.server.major_version < MESSAGE_HEARTBEAT_MAJOR:  # the matrix runs 10: Preflight refuses by name
        with harness.master() as db, pytest.raises(InvalidInput, match="heartbeat 'message' needs PostgreSQL 14"):
            preflight(db, Secrets(), harness.setup, harness.target)
        return
    configured = harness.configure()
    harness.create_slot()
    with harness.master() as master_db:
        assert "streamkap.streamkap_heartbeat" not in sql.published_tables(master_db, harness.setup.publication_name)
    creds = harness.user_credentials(configured.secret_arn)
    with Database.connect(
        host=harness.server.host, port=harness.server.port, database=harness.database, credentials=creds
    ) as db:
        result = verify(db, harness.setup, configured)
    assert result.peek_ok and result.heartbeat_seen is True and result.proof == "peek"
    assert harness.sql("SELECT to_regclass('streamkap.streamkap_heartbeat')") == [[None]]


def test_verify_behind_one_huge_transaction_brings_back_only_a_bounded_prefix(harness):
    # Given a slot whose first pending transaction holds far more changes than the peek bound
    from lambdas.logic.verify import PEEK_MAX_CHANGES

    configured = harness.configure()
    harness.create_slot()
    harness.sql("INSERT INTO public.orders SELECT g, 'bulk', 1 FROM generate_series(100, 5099) g")
    creds = harness.user_credentials(configured.secret_arn)

    # When Verify peeks (upto_nchanges still decodes the whole transaction)
    with Database.connect(
        host=harness.server.host, port=harness.server.port, database=harness.database, credentials=creds
    ) as db:
        result = verify(db, harness.setup, configured)

    # Then it passes, and only the bound's worth of changes came back, not the transaction's 5,000 rows
    assert result.peek_ok and result.peeked_changes == PEEK_MAX_CHANGES
    assert result.heartbeat_seen is False  # behind the backlog: not required then


def test_verify_fails_when_the_publication_lost_a_table_or_the_signal_table_since_configure(harness):
    configured = harness.configure()
    harness.create_slot()
    creds = harness.user_credentials(configured.secret_arn)

    def verify_as_user():
        with Database.connect(
            host=harness.server.host, port=harness.server.port, database=harness.database, credentials=creds
        ) as db:
            return verify(db, harness.setup, configured)

    harness.sql("ALTER PUBLICATION streamkap_pub DROP TABLE public.items")
    with pytest.raises(VerificationFailed, match=f"sees {configured.published_tables - 1} tables"):
        verify_as_user()
    harness.sql("ALTER PUBLICATION streamkap_pub ADD TABLE public.items")
    harness.sql("ALTER PUBLICATION streamkap_pub DROP TABLE streamkap.streamkap_signal")
    with pytest.raises(VerificationFailed, match="lacks streamkap.streamkap_signal"):
        verify_as_user()
