"""ConfigureDatabase and CreateSlot: apply the plan (lambdas/logic/database_plan.py), as the master user."""

from __future__ import annotations

import base64
from collections.abc import Callable

from scramp import ScramMechanism

from lambdas.dal import sql
from lambdas.dal.database import OBJECT_IN_USE, Database, ServerError
from lambdas.dal.secrets import Secrets
from lambdas.logic.database_plan import plan_database, published_names
from lambdas.logic.preflight import (
    check_blockers,
    check_publication_mode,
    check_server,
    check_slot,
    check_slot_failover,
    secret_changes,
    secret_name,
    set_failover_line,
    setup_catalog,
    slot_line,
    slot_ownership,
)
from lambdas.logic.report import inline_tables_csv
from lambdas.shared.errors import (
    CapacityExhausted,
    LongTransactionBlocking,
    SlotConflict,
    TransientFailure,
    WorkflowError,
)
from lambdas.shared.models import ConfigureResult, SetupInput, SlotResult, Target
from lambdas.shared.ownership import recorded_slots, user_marker
from lambdas.shared.settings import environment


def scram_verifier(password: str) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores; sending it keeps the cleartext off the server."""
    salt, stored_key, server_key, iterations = ScramMechanism("SCRAM-SHA-256").make_auth_info(password)
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


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
        raise sql.gave_up_waiting(
            db, "ConfigureDatabase", settings.lock_timeout_ms, error, "the database was left unchanged"
        ) from None


def _configure(
    db: Database, secrets: Secrets, setup: SetupInput, target: Target, server: sql.ServerInfo
) -> ConfigureResult:
    settings = environment()
    name = secret_name(setup, target)
    with db.transaction():
        # DDL never queues behind a production transaction (and so never blocks the queries behind it).
        sql.set_local_lock_timeout(db, settings.lock_timeout_ms)
        state = setup_catalog(db, setup, target, server)
        secret = secrets.inspect_user_secret(name, kms_key_arn=settings.secrets_kms_key_arn)
        adopted_secret = secret_changes(secret, setup, name)
        # Named errors surface before anything, the secret included, changes.
        planned = plan_database(
            state, setup, server, secret_exists=secret.arn is not None, master_username=target.master_username
        )
        check_publication_mode(db, setup, planned, nested=True)
        user_secret = secrets.ensure_user_secret(
            name=name,
            username=setup.user_name,
            connection={"host": target.host, "port": target.port, "dbname": target.database},
            kms_key_arn=settings.secrets_kms_key_arn,
            adopt="secret" in setup.adopt,
        )
        changes = plan_database(
            state,
            setup,
            server,
            secret_exists=secret.arn is not None,
            master_username=target.master_username,
            verifier=scram_verifier(user_secret.credentials.password),
        )
        for change in changes:
            # A change's statements carry no parameters: one simple-protocol message, one round trip
            # (REPLICA IDENTITY FULL on thousands of tables is one change).
            db.execute(";\n".join(change.statements))
        users, everything = published_names(state, setup, server)
        # A schemas or all_tables publication holds more than the captured tables: count what it holds.
        published = (
            len(everything) if setup.publication_mode == "tables" else sql.publication_size(db, setup.publication_name)
        )
    return ConfigureResult(
        changes=([f"created secret {user_secret.arn}"] if user_secret.created else [])
        + adopted_secret
        + [c.description for c in changes],
        secret_arn=user_secret.arn,
        user_tables=len(users),
        published_tables=published,
        tables_csv=inline_tables_csv(users),
    )


def record_slot(db: Database, setup: SetupInput, target: Target) -> None:
    """Note the slot in its user's marker, committed before the slot exists: a crash in between
    leaves a record of a slot that a re-run creates, never a slot nobody has a record of."""
    comment = sql.role_comment(db, setup.user_name)
    slots = recorded_slots(comment) | {(target.database, setup.slot_name)}
    db.execute(sql.comment_on("ROLE", setup.user_name, user_marker(slots)))


def create_slot(
    db: Database,
    setup: SetupInput,
    target: Target,
    reconnect: Callable[[], Database] | None = None,
    replicate: Callable[[], Database] | None = None,
) -> SlotResult:
    """`reconnect`: a new master connection, to look for the slot when this one was lost mid-creation.
    `replicate`: a master replication connection, to turn failover on for an existing slot (failover_slot)."""
    existing = sql.slot(db, setup.slot_name)
    if existing is not None:
        check_slot(existing, setup.slot_name, target.database)
        adopted = slot_ownership(db, setup, target, existing)
        if adopted:
            record_slot(db, setup, target)
        if check_slot_failover(existing, setup, sql.slot_holder(db, setup.slot_name)):
            set_failover(setup, replicate)
            return SlotResult(changes=[*adopted, set_failover_line(setup.slot_name)])
        return SlotResult(changes=adopted)
    timeout_ms = environment().slot_timeout_ms
    record_slot(db, setup, target)
    creating_pid = db.backend_pid
    try:
        sql.create_slot(db, setup.slot_name, timeout_ms, failover=setup.failover_slot)
    except LongTransactionBlocking:
        outcome = after_failed_creation(db, reconnect, setup, target, creating_pid)
        try:  # who held us up: every write transaction still open now
            check_blockers(sql.slot_blockers(db, 0), setup.slot_name)
        except LongTransactionBlocking as blocked:
            raise LongTransactionBlocking(f"{blocked}. {outcome}") from None
        raise LongTransactionBlocking(
            f"Creating slot {setup.slot_name} waited {timeout_ms // 1000}s for running transactions to end; "
            f"end long-running or idle-in-transaction sessions (pg_stat_activity) and start the execution again. "
            f"{outcome}"
        ) from None
    except WorkflowError as error:
        outcome = after_failed_creation(db, reconnect, setup, target, creating_pid)
        failed = TransientFailure if isinstance(error, TransientFailure) else type(error)
        raise failed(f"Creating slot {setup.slot_name} failed: {error}. {outcome}") from None
    return SlotResult(changes=["created" + slot_line(setup).removeprefix("create")])


def set_failover(setup: SetupInput, replicate: Callable[[], Database] | None) -> None:
    """ALTER_REPLICATION_SLOT ... (FAILOVER true) over a replication connection (PostgreSQL 17 has no
    SQL function for it). A connector that started streaming since the check makes it a SlotConflict."""
    if replicate is None:
        raise RuntimeError("setting a slot's failover property needs a replication connection (replicate)")
    with replicate() as replication:
        try:
            sql.set_slot_failover(replication, setup.slot_name)
        except ServerError as error:
            if error.sqlstate != OBJECT_IN_USE:
                raise
            raise SlotConflict(
                f"Replication slot {setup.slot_name} exists without failover, and a process streams it "
                f"({error.server_message}): PostgreSQL turns failover on only for a slot nobody streams. Pause the "
                "connector and start the execution again, or leave failover_slot false"
            ) from None


def after_failed_creation(
    db: Database,
    reconnect: Callable[[], Database] | None,
    setup: SetupInput,
    target: Target,
    creating_pid: int | None,
) -> str:
    """What became of the slot after its creation failed, said in one sentence for the error.

    The server may go on creating a slot after its client gave up (a lost connection, a socket
    timeout): a slot nobody knows of would retain WAL until the disk fills. So look, over a new
    connection when this one is lost. First end the session that was creating it (ours, its client
    gone): an unfinished slot then vanishes with it, a finished one stays. A slot found then did not
    exist when this step began, so this step created it; when it is ours (pgoutput, this database)
    and nobody reads it, drop it: the failed step leaves nothing behind, and its retry, or a re-run,
    creates it again (the user's marker records it). One in use is left in place and named."""
    name = setup.slot_name
    look = db if db.usable else None
    try:
        if look is None:
            if reconnect is None:
                return f"Could not look for slot {name}: check pg_replication_slots, drop it if nothing reads it"
            look = reconnect()
        ended = look is not db and creating_pid is not None and sql.end_own_session(look, creating_pid)
        ended_note = f" (ended the session still creating it, pid {creating_pid})" if ended else ""
        found = sql.slot(look, name)
        if found is None:
            return f"No slot {name} was left behind{ended_note}"
        reader = sql.slot_holder(look, name)
        if found.plugin != "pgoutput" or found.database != target.database or reader is not None:
            who = f"in use by pid {reader}" if reader is not None else f"{found.plugin} on {found.database}"
            return (
                f"Slot {name} exists, {who}: left in place. It retains WAL until dropped; if nothing should read "
                f"it, SELECT pg_drop_replication_slot('{name}')"
            )
        sql.drop_slot(look, name)
        return (
            f"Slot {name} had been created by this step after all{ended_note}; nothing read it, so it was dropped "
            "and retains no WAL. The workflow retries the step"
        )
    except WorkflowError as error:
        return (
            f"Could not look for slot {name} afterwards ({error}): check pg_replication_slots and drop it if "
            "nothing reads it"
        )
    finally:
        if look is not None and look is not db:
            look.close()
