"""Preflight: checks before any change, and the plan of every change the run would make."""

from __future__ import annotations

import re
from collections.abc import Callable

from lambdas.dal import sql
from lambdas.dal.database import Database
from lambdas.dal.secrets import Secrets, SecretState
from lambdas.logic.database_plan import Change, plan_database
from lambdas.logic.parameter_group import failover_slot_refusal
from lambdas.logic.register import source_plan
from lambdas.logic.schedule import schedule_plan_line
from lambdas.logic.self_managed import wal_level_fix
from lambdas.shared.errors import (
    CapacityExhausted,
    InsufficientPrivilege,
    InvalidInput,
    LongTransactionBlocking,
    NotOwned,
    PublicationModeNotAllowed,
    SlotConflict,
    UnsupportedVersion,
)
from lambdas.shared.models import HEARTBEAT_TABLE, HeartbeatMode, PreflightResult, SetupInput, Target
from lambdas.shared.ownership import OWNER_TAG_KEY, OWNER_TAG_VALUE, recorded_slots
from lambdas.shared.settings import environment


def secret_name(setup: SetupInput, target: Target) -> str:
    # Aurora: named after the cluster, not its writer, which a failover may change.
    # Self-managed targets are host:port/database; a secret name allows only [A-Za-z0-9/_+=.@-].
    owner = re.sub(r"[^A-Za-z0-9/_+=.@-]", "-", target.cluster_id or target.instance_id)
    return f"{environment().secret_name_prefix}{owner}/{setup.user_name}"


def secret_changes(secret: SecretState, setup: SetupInput, name: str) -> list[str]:
    """What the run does with the CDC user's secret; someone else's is refused unless adopted."""
    if secret.arn is None or secret.owned:
        return []
    if "secret" not in setup.adopt:
        raise NotOwned(secret.refusal(name))
    return [f"adopt existing secret {name} (tag it {OWNER_TAG_KEY}={OWNER_TAG_VALUE}; its password becomes the user's)"]


def slot_ownership(db: Database, setup: SetupInput, target: Target, existing: sql.SlotInfo) -> list[str]:
    """An existing slot is the workflow's when its CDC user's marker records it; someone else's
    is refused unless adopted (then recorded). Returns the adoption, if any."""
    recorded = recorded_slots(sql.role_comment(db, setup.user_name))
    if (target.database, setup.slot_name) in recorded:
        return []
    if "slot" not in setup.adopt:
        raise NotOwned(
            f"Replication slot {setup.slot_name} exists but was not created by rds-cdc-setup for user "
            f"{setup.user_name} (no record of it in that user's rds-cdc-setup marker), so the workflow will not "
            'use it. Choose another slot_name, drop it if nothing reads it, or take it over with adopt: ["slot"]'
        )
    return [f"adopt existing replication slot {setup.slot_name} (record it as rds-cdc-setup's)"]


# pgoutput passes logical messages on from PostgreSQL 14 (its `messages` option).
MESSAGE_HEARTBEAT_MAJOR = 14


def resolve_heartbeat(setup: SetupInput, server: sql.ServerInfo, state: sql.CatalogState) -> HeartbeatMode:
    """heartbeat "auto": logical messages where pgoutput carries them (14+), so no table is made and the
    connector needs no write grant (Streamkap's "use logical message" heartbeat; the Terraform source then
    has heartbeat_enabled and no heartbeat schema); the table below 14, and wherever an earlier setup made
    ours: a connector configured with it keeps working."""
    if setup.heartbeat != "auto":
        return setup.heartbeat
    ours_exists = HEARTBEAT_TABLE in state.own_tables_marked
    return "table" if ours_exists or server.major < MESSAGE_HEARTBEAT_MAJOR else "message"


def heartbeat_line(setup: SetupInput, server: sql.ServerInfo) -> str:
    if setup.heartbeat == "message":
        return (
            f"heartbeat (auto): logical messages, no heartbeat table (PostgreSQL {server.major}); "
            'heartbeat: "table" keeps a table instead'
        )
    why = "an earlier setup made it" if server.major >= MESSAGE_HEARTBEAT_MAJOR else f"PostgreSQL {server.major} < 14"
    return f"heartbeat (auto): table {setup.signal_table_schema}.{HEARTBEAT_TABLE} ({why})"


def check_server(server: sql.ServerInfo, setup: SetupInput | None = None) -> None:
    if server.major < 10:
        raise UnsupportedVersion(f"The server runs PostgreSQL {server.version_num}; 10 or later is required")
    if setup is not None and setup.heartbeat == "message" and server.major < MESSAGE_HEARTBEAT_MAJOR:
        raise InvalidInput(
            f"heartbeat 'message' needs PostgreSQL {MESSAGE_HEARTBEAT_MAJOR}+ (pgoutput passes logical messages on "
            f"from 14); the server runs {server.major}: use heartbeat 'table' (the default) or 'off'"
        )
    if not (server.is_superuser or server.is_rds_superuser):
        raise InsufficientPrivilege(
            f"The master user {server.current_user!r} is neither superuser nor a member of rds_superuser; "
            "use the instance's master user secret"
        )


def check_failover_slot(setup: SetupInput, target: Target, server: sql.ServerInfo) -> None:
    """failover_slot on a server that can have it (the server's own major: self-managed targets
    have no engine version from RDS; on RDS DescribeTarget refused already, from the engine version)."""
    if setup.failover_slot:
        refusal = failover_slot_refusal(server.major, aurora=target.cluster_id is not None)
        if refusal:
            raise InvalidInput(refusal)


def standby_plan(db: Database, target: Target) -> list[str]:
    """failover_slot: what synchronising the slot to a standby still needs that the workflow does not
    set, from what the primary shows (see FAILOVER_SLOT_PARAMETERS in lambdas/logic/parameter_group.py)."""
    found = sql.standby_slots(db)
    where = "the parameter group" if not target.self_managed else "postgresql.conf"
    physical = (
        f"(this server has: {', '.join(found.physical_slots)})"
        if found.physical_slots
        else "(this server has no physical slot: no standby streams from it yet)"
    )
    if found.synchronized_standby_slots:
        lines = [
            f"synchronized_standby_slots = {found.synchronized_standby_slots!r}: the connector receives a change only "
            "once those standbys have it, so a promoted one's copy of the slot is never behind the connector. "
            "A listed slot that is dropped (its replica deleted) stalls the connector until it is taken out"
        ]
    else:
        lines = [
            "synchronized_standby_slots is not set, and the workflow leaves it to you: set it in "
            f"{where} to the physical slot of the standby meant to take over "
            + physical
            + ". Until then the connector may confirm changes the standby has not received, and a promoted "
            "standby's copy of the slot can be behind it. A listed slot that is later dropped stalls the connector"
        ]
    if target.self_managed:
        lines.append(
            "the standby needs sync_replication_slots = on, hot_standby_feedback = on, primary_slot_name, and a "
            "dbname in primary_conninfo (PostgreSQL 17 docs, Replication Slot Synchronization): the workflow "
            "leaves a self-managed server's configuration to its operator"
        )
    elif not found.sync_database_exists:
        lines.append(
            "the read replica's rds.logical_slot_sync_dbname defaults to postgres, which does not exist on this "
            "instance: set it to an existing database in the replica's parameter group, or slots are not synced"
        )
    return lines


def setup_catalog(db: Database, setup: SetupInput, target: Target, server: sql.ServerInfo) -> sql.CatalogState:
    return sql.read_setup_catalog(
        db,
        database=target.database,
        user=setup.user_name,
        role=setup.role_name,
        schemas=setup.schemas,
        signal_schema=setup.signal_table_schema,
        publication=setup.publication_name,
        server=server,
        publication_mode=setup.publication_mode,
    )


def check_slot(existing: sql.SlotInfo, name: str, database: str) -> None:
    if existing.plugin != "pgoutput" or existing.database != database:
        raise SlotConflict(
            f"Replication slot {name} exists with plugin {existing.plugin!r} on database "
            f"{existing.database!r}; Streamkap needs pgoutput on {database!r}. Choose another slot_name "
            "or drop that slot if nothing uses it"
        )
    if existing.wal_status == "lost":
        raise SlotConflict(
            f"Replication slot {name} exists but the WAL it needs was removed (wal_status 'lost': it fell more "
            "than max_slot_wal_keep_size behind), so no connector can stream from it again. Drop it "
            f"(SELECT pg_drop_replication_slot('{name}')) and start the execution again; the Streamkap "
            "connector then needs a new snapshot"
        )


def check_blockers(blockers: list[sql.Blocker], slot_name: str) -> None:
    if blockers:
        listed = "; ".join(str(b) for b in blockers[:10])
        raise LongTransactionBlocking(
            f"Creating slot {slot_name} would wait for these open write transactions to end: {listed}. "
            "Let them finish, or end them (SELECT pg_terminate_backend(pid); COMMIT/ROLLBACK PREPARED for "
            "prepared transactions), then start the execution again"
        )


def check_slot_failover(existing: sql.SlotInfo, setup: SetupInput, reader_pid: int | None) -> bool:
    """Whether an existing slot must get the failover property (failover_slot on a slot without it).
    SlotConflict while a connector streams it: ALTER_REPLICATION_SLOT acquires the slot."""
    if not setup.failover_slot or existing.failover is not False:
        return False
    if reader_pid is not None:
        raise SlotConflict(
            f"Replication slot {setup.slot_name} exists without failover, and pid {reader_pid} streams it: "
            "PostgreSQL turns failover on only for a slot nobody streams (ALTER_REPLICATION_SLOT acquires it). "
            "Pause the connector and start the execution again (the connector then resumes from where it was), "
            "or leave failover_slot false"
        )
    return True


def set_failover_line(slot_name: str) -> str:
    return (
        f"set failover on replication slot {slot_name} (ALTER_REPLICATION_SLOT over a replication connection: "
        "PostgreSQL offers no SQL function for it; the slot keeps its position)"
    )


def slot_plan(db: Database, setup: SetupInput, target: Target, server: sql.ServerInfo) -> list[str]:
    existing = sql.slot(db, setup.slot_name)
    if existing is not None:
        check_slot(existing, setup.slot_name, target.database)
        lines = slot_ownership(db, setup, target, existing)
        if check_slot_failover(existing, setup, sql.slot_holder(db, setup.slot_name)):
            lines.append(set_failover_line(setup.slot_name))
        return lines
    if server.replication_slots_used >= server.max_replication_slots:
        raise CapacityExhausted(
            f"All {server.max_replication_slots} replication slots are in use; raise max_replication_slots in "
            "the parameter group (then reboot) or drop a slot nothing uses (pg_replication_slots)"
        )
    if server.wal_senders_used >= server.max_wal_senders:
        raise CapacityExhausted(
            f"All {server.max_wal_senders} WAL senders are busy, so the connector could not stream; raise "
            "max_wal_senders in the parameter group (then reboot)"
        )
    check_blockers(sql.slot_blockers(db, environment().long_transaction_seconds), setup.slot_name)
    return [slot_line(setup)]


def slot_line(setup: SetupInput) -> str:
    """The plan's line and CreateSlot's change for a new slot."""
    failover = ", failover: synced to standbys running sync_replication_slots" if setup.failover_slot else ""
    return f"create replication slot {setup.slot_name} (pgoutput{failover})"


def with_live_notes(changes: list[Change], setup: SetupInput, reader_pid: int | None) -> list[str]:
    """The plan's lines; while a connector streams the slot (reader_pid), each change to what it
    receives is followed by a line saying so."""
    plan = []
    for change in changes:
        plan.append(change.description)
        if reader_pid is None:
            continue
        live = f"read by an active slot {setup.slot_name} (pid {reader_pid})"
        if any(s.startswith("ALTER PUBLICATION") for s in change.statements):
            added = re.match(r"add (\d+) tables", change.description)
            plan.append(
                f"publication {setup.publication_name} is {live}: adding {added[1] if added else 'some'} "
                "table(s) changes what the running connector receives"
            )
        identity = [s for s in change.statements if s.endswith("REPLICA IDENTITY FULL")]
        if identity:
            plan.append(
                f"publication {setup.publication_name} is {live}: with REPLICA IDENTITY FULL on {len(identity)} "
                "table(s), their UPDATE and DELETE carry whole old rows to the running connector"
            )
    return plan


def check_publication_mode(db: Database, setup: SetupInput, changes: list[Change], *, nested: bool = False) -> None:
    """A FOR ALL TABLES or FOR TABLES IN SCHEMA publication needs what only the server can tell
    (superuser on PostgreSQL; rds_superuser where RDS or Aurora allows it): try the statement in a
    transaction (`nested`: a savepoint of the caller's) that is always rolled back."""
    trials = [change.trial for change in changes if change.trial]
    if not trials:
        return
    try:
        with db.rolled_back(nested=nested):
            sql.set_local_lock_timeout(db, environment().lock_timeout_ms)
            for statement in trials:
                db.execute(statement)
    except InsufficientPrivilege as refused:
        clause = "FOR ALL TABLES" if setup.publication_mode == "all_tables" else "FOR TABLES IN SCHEMA"
        raise PublicationModeNotAllowed(
            f"The master user may not create publication {setup.publication_name} {clause} "
            f"(publication_mode {setup.publication_mode}) on this server: tried in a transaction that was rolled "
            f"back, nothing was changed ({refused}). PostgreSQL allows such publications only to a superuser (on "
            "RDS and Aurora, to rds_superuser where the engine version allows it). What works: publication_mode "
            "tables (the default: the tables listed, which the master user may publish as their owner), or a "
            "superuser's secret as master_secret_arn"
        ) from None


def reboot_plan(instance_id: str | None, reboot: str) -> str:
    """The plan says what the reboot costs before anyone approves it."""
    if reboot == "never":
        return (
            f"reboot instance {instance_id} so wal_level becomes logical: not in this run (reboot: never), which "
            "stops with RebootPending; reboot it when it suits you and run again"
        )
    return (
        f"reboot instance {instance_id} so wal_level becomes logical, as soon as it is available: the database is "
        "down until it is back (usually minutes; open connections drop; a Multi-AZ instance reboots in place, no "
        "failover forced); reboot: never lets you choose the moment"
    )


def preflight(db: Database, secrets: Secrets, setup: SetupInput, target: Target) -> PreflightResult:
    server = sql.server_info(db)
    check_server(server, setup)
    check_failover_slot(setup, target, server)
    if target.self_managed and server.wal_level != "logical":
        raise InvalidInput(wal_level_fix(target, server.wal_level))
    state = setup_catalog(db, setup, target, server)
    heartbeat = resolve_heartbeat(setup, server, state)
    plan_notes = []
    if setup.heartbeat == "auto":
        setup = setup.model_copy(update={"heartbeat": heartbeat})
        plan_notes.append(heartbeat_line(setup, server))
    name = secret_name(setup, target)
    secret = secrets.inspect_user_secret(name, kms_key_arn=environment().secrets_kms_key_arn)
    plan = list(target.parameter_plan)
    if target.self_managed:
        plan.append(
            "max_slot_wal_keep_size is not managed on self-managed PostgreSQL: the workflow leaves it as it is "
            "(PostgreSQL 13+: ALTER SYSTEM SET max_slot_wal_keep_size = '<n>MB' bounds the WAL a slot may hold)"
        )
    if target.parameter_reboot_needed or server.wal_level != "logical":
        plan.append(reboot_plan(target.instance_id, setup.reboot))

    def refusable(planned: Callable[[], list[str]]) -> list[str]:
        """A real run stops at someone else's object; a dry run lists the refusal and goes on."""
        try:
            return planned()
        except NotOwned as refused:
            if not setup.dry_run:
                raise
            return [f"refused (a real run stops here): {refused}"]

    plan += refusable(lambda: secret_changes(secret, setup, name))

    def database_plan() -> list[str]:
        changes = plan_database(
            state, setup, server, secret_exists=secret.arn is not None, master_username=target.master_username
        )
        lines = with_live_notes(changes, setup, sql.slot_reader(db, setup.slot_name))
        try:
            check_publication_mode(db, setup, changes)
        except PublicationModeNotAllowed as refused:
            if not setup.dry_run:
                raise
            lines.append(f"refused (a real run stops here): {refused}")
        return lines

    plan += refusable(database_plan)
    plan += refusable(lambda: slot_plan(db, setup, target, server))
    if setup.failover_slot:
        plan += standby_plan(db, target)
    plan += source_plan(setup, target)
    plan.append(schedule_plan_line(setup, target, environment()))
    plan += plan_notes
    return PreflightResult(
        server_version_num=server.version_num,
        wal_level=server.wal_level,
        rds_roles=server.rds_replication_exists,
        plan=plan,
        heartbeat=heartbeat,
    )
