"""ConfigureDatabase and CreateSlot: apply the plan, as the master user."""

from __future__ import annotations

import base64
import re

from scramp import ScramMechanism

from lambdas.dal import sql
from lambdas.dal.database import Database
from lambdas.dal.secrets import Secrets
from lambdas.logic.database_setup import plan_database, published_names
from lambdas.logic.preflight import check_blockers, check_server, check_slot, inspect
from lambdas.logic.report import inline_tables_csv
from lambdas.shared.errors import CapacityExhausted, LongTransactionBlocking
from lambdas.shared.models import ConfigureResult, SetupInput, SlotResult, Target
from lambdas.shared.settings import environment


def scram_verifier(password: str) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores; sending it keeps the cleartext off the server."""
    salt, stored_key, server_key, iterations = ScramMechanism("SCRAM-SHA-256").make_auth_info(password)
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def secret_name(setup: SetupInput, target: Target) -> str:
    # Aurora: named after the cluster, not its writer, which a failover may change.
    # Self-managed targets are host:port/database; a secret name allows only [A-Za-z0-9/_+=.@-].
    owner = re.sub(r"[^A-Za-z0-9/_+=.@-]", "-", target.cluster_id or target.instance_id)
    return f"{environment().secret_name_prefix}{owner}/{setup.user_name}"


def configure_database(db: Database, secrets: Secrets, setup: SetupInput, target: Target) -> ConfigureResult:
    """One transaction: a crash at any statement leaves nothing half-done, and a re-run converges."""
    server = sql.server_info(db)
    check_server(server)
    settings = environment()
    try:
        return _configure(db, secrets, setup, target, server)
    except CapacityExhausted as error:
        if "SQLSTATE 53200" not in str(error):
            raise
        raise CapacityExhausted(
            f"ConfigureDatabase ran out of lock table space ({error}): its one transaction locks every table it "
            "publishes, and the server's lock table holds max_locks_per_transaction x (max_connections + "
            "max_prepared_transactions) locks. Raise max_locks_per_transaction in the parameter group (static: "
            "it applies at the next reboot), or publish fewer tables per run; the database was left unchanged"
        ) from None
    except LongTransactionBlocking as error:
        holders = "; ".join(sql.lock_holders(db)) or "none left"
        raise LongTransactionBlocking(
            f"ConfigureDatabase gave up after {settings.lock_timeout_ms} ms waiting for a lock ({error}) rather than "
            f"queue production queries behind it. Sessions holding table locks: {holders}. Let them finish, then "
            "start the execution again"
        ) from None


def _configure(
    db: Database, secrets: Secrets, setup: SetupInput, target: Target, server: sql.ServerInfo
) -> ConfigureResult:
    settings = environment()
    with db.transaction():
        # DDL never queues behind a production transaction (and so never blocks the queries behind it).
        sql.set_local_lock_timeout(db, settings.lock_timeout_ms)
        state = inspect(db, setup, target, server)
        plan_database(state, setup, server)  # named errors surface before anything, the secret included, changes
        user_secret = secrets.ensure_user_secret(
            name=secret_name(setup, target),
            username=setup.user_name,
            connection={"host": target.host, "port": target.port, "dbname": target.database},
            kms_key_arn=settings.secrets_kms_key_arn,
        )
        changes = plan_database(
            state,
            setup,
            server,
            verifier=scram_verifier(user_secret.credentials.password),
            password_is_new=user_secret.created,
        )
        for change in changes:
            # A change's statements carry no parameters: one simple-protocol message, one round trip
            # (REPLICA IDENTITY FULL on thousands of tables is one change).
            db.execute(";\n".join(change.statements))
    users, everything = published_names(state, setup, server)
    return ConfigureResult(
        changes=([f"created secret {user_secret.arn}"] if user_secret.created else [])
        + [c.description for c in changes],
        secret_arn=user_secret.arn,
        user_tables=len(users),
        published_tables=len(everything),
        tables_csv=inline_tables_csv(users),
    )


def create_slot(db: Database, setup: SetupInput, target: Target) -> SlotResult:
    existing = sql.slot(db, setup.slot_name)
    if existing is not None:
        check_slot(existing, setup.slot_name, target.database)
        return SlotResult(changes=[])
    timeout_ms = environment().slot_timeout_ms
    try:
        sql.create_slot(db, setup.slot_name, timeout_ms)
    except LongTransactionBlocking:
        # Who held us up: every write transaction still open now.
        check_blockers(sql.slot_blockers(db, 0), setup.slot_name)
        raise LongTransactionBlocking(
            f"Creating slot {setup.slot_name} waited {timeout_ms // 1000}s for running transactions to end; "
            "end long-running or idle-in-transaction sessions (pg_stat_activity) and start the execution again"
        ) from None
    return SlotResult(changes=[f"created replication slot {setup.slot_name} (pgoutput)"])
