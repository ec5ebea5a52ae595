"""Bad input, table-driven, through the real state machine: each case ends in its named
error and leaves the catalog and the emulated RDS state exactly as they were."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import boto3
import pytest

from local.postgres_server import LocalPostgres
from tests.snapshots import everything
from tests.workflow.conftest import INSTANCE, Stack, make_stack

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def shared_stack() -> Iterator[Stack]:
    """One stack for every case: a case that changes nothing leaves it as the next one needs it.
    wal_level is already logical so slot conflicts can be staged."""
    server = LocalPostgres(settings={"wal_level": "logical"}).init().start()
    try:
        for stack in make_stack(server):
            rds = boto3.client("rds")
            for identifier, engine, version in (
                ("legacy-mysql", "mysql", "8.0.36"),
                ("old-pg", "postgres", "9.6.22"),
                ("paused-db", "postgres", "15.4"),
            ):
                rds.create_db_instance(
                    DBInstanceIdentifier=identifier,
                    Engine=engine,
                    EngineVersion=version,
                    DBInstanceClass="db.t4g.micro",
                    AllocatedStorage=20,
                    MasterUsername="admin",
                    ManageMasterUserPassword=True,
                )
            rds.stop_db_instance(DBInstanceIdentifier="paused-db")
            rds.create_db_instance_read_replica(
                DBInstanceIdentifier="orders-replica", SourceDBInstanceIdentifier=INSTANCE
            )
            yield stack
    finally:
        server.destroy()


@dataclass
class Case:
    id: str
    input: dict
    error: str
    message: str = ""  # a fragment the message must contain
    stage: Callable[[Stack], Callable[[], None] | None] = field(default=lambda stack: None)


def secret(stack: Stack, name: str, username: str, password: str) -> str:
    """A master secret a DBA made, under the names the deployment lists (conftest WORKFLOW_CONTEXT)."""
    return boto3.client("secretsmanager").create_secret(
        Name=f"listed/{name}", SecretString=json.dumps({"username": username, "password": password})
    )["ARN"]


def staged_sql(*setup: str, cleanup: tuple[str, ...] = (), database: str = "orders", admin: bool = False):
    """Statements run by the master user, or with `admin` by the superuser (what someone other than
    the master did on RDS)."""

    def connect(stack: Stack):
        return stack.server.connect_admin(database) if admin else stack.server.connect(database)

    def stage(stack: Stack):
        conn = connect(stack)
        for statement in setup:
            conn.run(statement)
        conn.close()

        def undo() -> None:
            conn = connect(stack)
            for statement in cleanup:
                conn.run(statement)
            conn.close()

        return undo

    return stage


def open_write_transaction(stack: Stack):
    holder = stack.server.connect("orders")
    holder.run("BEGIN")
    holder.run("UPDATE public.orders SET total = total WHERE id = 1")

    def undo() -> None:
        holder.run("ROLLBACK")
        holder.close()

    return undo


def fill_replication_slots(stack: Stack):
    conn = stack.server.connect()
    free = conn.run("SELECT current_setting('max_replication_slots')::int - count(*) FROM pg_replication_slots")[0][0]
    names = [f"filler_{i}" for i in range(free)]
    for name in names:
        conn.run("SELECT pg_create_physical_replication_slot(:n)", n=name)
    conn.close()

    def undo() -> None:
        conn = stack.server.connect()
        for name in names:
            conn.run("SELECT pg_drop_replication_slot(:n)", n=name)
        conn.close()

    return undo


def master_secret_for(username: str, *statements: str, cleanup: tuple[str, ...] = ()):
    """Stage a master user of our own; `{password}` in the statements is a throw-away one."""

    def stage(stack: Stack):
        password = secrets.token_hex(12)
        undo_sql = staged_sql(*(s.format(password=password) for s in statements), cleanup=cleanup)(stack)
        stack.extra_input = {"master_secret_arn": secret(stack, f"master-{username}", username, password)}
        return undo_sql

    return stage


def wrong_password_secret(stack: Stack):
    stack.extra_input = {
        "master_secret_arn": secret(stack, "wrong-master", stack.server.master_user, secrets.token_hex(8))
    }


def slot_on_other_database(stack: Stack):
    stack.server.create_database("other")
    conn = stack.server.connect("other")
    conn.run("SELECT pg_create_logical_replication_slot('streamkap_pgoutput_slot', 'pgoutput')")
    conn.close()

    def undo() -> None:
        conn = stack.server.connect()
        conn.run("SELECT pg_drop_replication_slot('streamkap_pgoutput_slot')")
        conn.run("DROP DATABASE other")
        conn.close()

    return undo


LONG = "x" * 64
CASES = [
    # ---- the input itself -------------------------------------------------------------
    Case("unknown key", {"shemas": ["public"]}, "InvalidInput", "shemas"),
    Case("slot name with quote and semicolon", {"slot_name": "s'; DROP TABLE orders; --"}, "InvalidInput", "slot_name"),
    Case("slot name upper case", {"slot_name": "Streamkap_Slot"}, "InvalidInput", "slot_name"),
    Case("slot name reserved by RDS", {"slot_name": "rds_cdc"}, "InvalidInput", "reserved on RDS"),
    Case("slot name over 63 bytes", {"slot_name": LONG}, "InvalidInput", "slot_name"),
    Case("publication name over 63 bytes", {"publication_name": LONG}, "InvalidInput", "63 bytes"),
    Case("unicode schema over 63 bytes", {"schemas": ["données_" + "é" * 30]}, "InvalidInput", "63 bytes"),
    Case("user name pg_ reserved", {"user_name": "pg_streamkap"}, "InvalidInput", "reserved"),
    Case("role name rds reserved", {"role_name": "rds_streamkap"}, "InvalidInput", "reserved on RDS"),
    Case("user equals role", {"user_name": "streamkap", "role_name": "streamkap"}, "InvalidInput", "differ"),
    Case("table without schema", {"tables": ["orders"]}, "InvalidInput", "schema.table"),
    Case(
        "table outside schemas",
        {"schemas": ["public"], "tables": ["inventory.stock"]},
        "InvalidInput",
        "not in schemas",
    ),
    Case("reboot policy unknown", {"reboot": "sometimes"}, "InvalidInput", "reboot"),
    Case("replica identity policy unknown", {"replica_identity": "yes"}, "InvalidInput", "replica_identity"),
    Case("poll seconds zero", {"poll_seconds": 0}, "InvalidInput", "poll_seconds"),
    Case("max wait too long", {"max_wait_minutes": 100000}, "InvalidInput", "max_wait_minutes"),
    Case("instance id missing", {"db_instance_identifier": None}, "InvalidInput", "db_instance_identifier"),
    Case("instance id hostile", {"db_instance_identifier": "orders'; --"}, "InvalidInput", "RDS identifier"),
    Case("database name with NUL", {"database": "orders\x00x"}, "InvalidInput", "NUL"),
    Case("instance and cluster both given", {"db_cluster_identifier": "orders-cluster"}, "InvalidInput", "not both"),
    Case("cluster id hostile", {"db_instance_identifier": None, "db_cluster_identifier": "c;"}, "InvalidInput", "RDS"),
    Case("schemas empty", {"schemas": []}, "InvalidInput", "schemas"),
    Case("dry_run not a boolean", {"dry_run": "perhaps"}, "InvalidInput", "dry_run"),
    # ---- what the names point at ---------------------------------------------------------
    Case("database missing", {"database": "nope"}, "InvalidInput", "does not exist"),
    Case("schema missing", {"schemas": ["public", "sales"]}, "InvalidInput", "sales"),
    Case("hostile schema name", {"schemas": ['public"; DROP TABLE public.orders; --']}, "InvalidInput", "DROP TABLE"),
    Case("table missing", {"tables": ["public.ghost"]}, "InvalidInput", "public.ghost"),
    Case("unicode table missing", {"tables": ["public.bestellungen_ü"]}, "InvalidInput", "bestellungen_ü"),
    Case("instance unknown", {"db_instance_identifier": "no-such-db"}, "TargetNotFound", "no-such-db"),
    Case(
        "cluster unknown",
        {"db_instance_identifier": None, "db_cluster_identifier": "no-such-cluster"},
        "TargetNotFound",
        "no-such-cluster",
    ),
    Case("MySQL engine", {"db_instance_identifier": "legacy-mysql"}, "UnsupportedEngine", "mysql"),
    Case("PostgreSQL 9.6", {"db_instance_identifier": "old-pg"}, "UnsupportedVersion", "9.6"),
    Case("read replica", {"db_instance_identifier": "orders-replica"}, "ReadReplicaNotSupported", INSTANCE),
    Case("instance stopped", {"db_instance_identifier": "paused-db"}, "TargetNotAvailable", "stopped"),
    Case(
        "master secret missing",
        {"master_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:listed/gone"},
        "InvalidInput",
        "Cannot read secret",
    ),
    Case("master password wrong", {}, "DatabaseUnreachable", "password", stage=wrong_password_secret),
    Case(
        "master not superuser",
        {},
        "InsufficientPrivilege",
        "rds_superuser",
        stage=master_secret_for(
            "app_user", "CREATE ROLE app_user LOGIN PASSWORD '{password}'", cleanup=("DROP ROLE app_user",)
        ),
    ),
    Case(
        "tables owned by another role",
        {"schemas": ["public"]},
        "InsufficientPrivilege",
        "table public.payroll",
        # The master (RDS's: no superuser) is no member of hr_owner, as with another team's tables.
        stage=staged_sql(
            "CREATE ROLE hr_owner NOLOGIN",
            "CREATE TABLE public.payroll (id int PRIMARY KEY)",
            "ALTER TABLE public.payroll OWNER TO hr_owner",
            cleanup=("DROP TABLE public.payroll", "DROP ROLE hr_owner"),
            admin=True,
        ),
    ),
    # ---- what already exists ---------------------------------------------------------------
    Case(
        "slot with a foreign plugin",
        {},
        "SlotConflict",
        "test_decoding",
        stage=staged_sql(
            "SELECT pg_create_logical_replication_slot('streamkap_pgoutput_slot', 'test_decoding')",
            cleanup=("SELECT pg_drop_replication_slot('streamkap_pgoutput_slot')",),
        ),
    ),
    Case("slot on another database", {}, "SlotConflict", "other", stage=slot_on_other_database),
    Case(
        "adopted publication on other tables",
        {"schemas": ["public"], "adopt": ["publication"]},
        "PublicationConflict",
        "inventory.stock",
        stage=staged_sql(
            "CREATE PUBLICATION streamkap_pub FOR TABLE inventory.stock", cleanup=("DROP PUBLICATION streamkap_pub",)
        ),
    ),
    Case("no replication slot left", {}, "CapacityExhausted", "replication slots", stage=fill_replication_slots),
    Case("blocked by a long write transaction", {}, "LongTransactionBlocking", "pid", stage=open_write_transaction),
    Case(
        "table without primary key",
        {},
        "ReplicaIdentityMissing",
        "public.audit_log",
        stage=staged_sql(
            "CREATE TABLE public.audit_log (at timestamptz, line text)", cleanup=("DROP TABLE public.audit_log",)
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_ends_in_its_named_error_and_changes_nothing(shared_stack: Stack, case: Case, monkeypatch):
    monkeypatch.setenv("LONG_TRANSACTION_SECONDS", "0")  # the staged transaction is seconds old, not minutes
    shared_stack.extra_input = {}
    undo = case.stage(shared_stack)
    try:
        before = everything(shared_stack.server, "orders")
        execution = shared_stack.run(**{**shared_stack.extra_input, **case.input})
        after = everything(shared_stack.server, "orders")
    finally:
        if undo:
            undo()
    assert execution.status == "FAILED"
    assert execution.error == case.error, execution.cause
    assert case.message in execution.cause
    assert after == before
