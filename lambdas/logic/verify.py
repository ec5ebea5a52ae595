"""Verify, as the new user: what the Streamkap connector will do, without consuming anything."""

from __future__ import annotations

import struct
import time
import uuid

from lambdas.dal import sql
from lambdas.dal.database import OBJECT_IN_USE, Database, ServerError
from lambdas.shared.errors import VerificationFailed, WorkflowError
from lambdas.shared.models import ConfigureResult, SetupInput, VerifyResult
from lambdas.shared.settings import environment

PEEK_MAX_CHANGES = 256
# A live connector (the slot is active) must confirm Verify's heartbeat within this, polled every
# LIVE_POLL_SECONDS: well under the Lambda's timeout (infra/functions.py), each poll one short query.
LIVE_CONFIRM_SECONDS = 20
LIVE_POLL_SECONDS = 1.0
# The prefix of heartbeat "message": what a connector's heartbeat query would emit too.
HEARTBEAT_MESSAGE_PREFIX = "streamkap_heartbeat"


def writes_to(changes: list[bytes], relation_oid: int) -> bool:
    """Does the pgoutput stream hold an Insert or Update ('I'/'U' + relation oid) of this table?"""
    oid = struct.pack("!I", relation_oid)
    return any(change[:1] in (b"I", b"U") and change[1:5] == oid for change in changes)


def carries_message(changes: list[bytes], body: bytes) -> bool:
    """Does the stream hold this logical message ('M', flags, LSN, then prefix and content)?"""
    start = sql.MESSAGE_HEADER_BYTES
    return any(change[:1] == b"M" and change[start : start + len(body)] == body for change in changes)


def write_heartbeat(db: Database, setup: SetupInput) -> sql.Heartbeat | None:
    if setup.heartbeat == "table":
        return sql.write_heartbeat(db, setup.signal_table_schema)
    if setup.heartbeat == "message":
        return sql.emit_heartbeat_message(db, HEARTBEAT_MESSAGE_PREFIX, f"rds-cdc-setup verify {uuid.uuid4().hex}")
    return None


def seen(changes: list[bytes], heartbeat: sql.Heartbeat) -> bool:
    if heartbeat.message is not None:
        return carries_message(changes, heartbeat.message)
    return heartbeat.table_oid is not None and writes_to(changes, heartbeat.table_oid)


def verify(db: Database, setup: SetupInput, configured: ConfigureResult) -> VerifyResult:
    server = sql.server_info(db)
    if server.wal_level != "logical":
        raise VerificationFailed(f"wal_level is {server.wal_level!r}, not 'logical': the reboot did not apply it")
    published = sql.published_tables(db, setup.publication_name)
    # The state holds counts, not names (ConfigureResult): ConfigureDatabase committed exactly its set
    # in one transaction, so the user must see at least as many tables, our own among them.
    own = [f"{setup.signal_table_schema}.{t}" for t in setup.own_tables]
    missing = [name for name in own if name not in published]
    if missing:
        raise VerificationFailed(
            f"Publication {setup.publication_name} lacks {', '.join(missing)} as seen by {setup.user_name}"
        )
    if len(published) < configured.published_tables:
        raise VerificationFailed(
            f"{setup.user_name} sees {len(published)} tables in publication {setup.publication_name}; "
            f"ConfigureDatabase published {configured.published_tables}. Was a table dropped or removed from "
            "the publication meanwhile? Start the execution again"
        )
    heartbeat = write_heartbeat(db, setup)
    live = VerifyResult(
        wal_level=server.wal_level,
        published_tables=len(published),
        peek_ok=False,
        peeked_changes=0,
        heartbeat_seen=True if heartbeat is not None else None,
        heartbeat=setup.chosen_heartbeat(),
        proof="live",
    )
    if sql.slot_reader(db, setup.slot_name) is not None and confirmed_live(db, setup, heartbeat):
        return live
    try:
        changes = sql.peek_slot(
            db,
            slot_name=setup.slot_name,
            publication=setup.publication_name,
            proto_version=server.pgoutput_proto_version,
            max_changes=PEEK_MAX_CHANGES,
            timeout_ms=environment().peek_timeout_ms,
            messages=setup.heartbeat == "message",
        )
    except (WorkflowError, ServerError) as error:
        code, detail = (error.sqlstate, error.server_message) if isinstance(error, ServerError) else (None, str(error))
        # A connector attached between the check and the peek.
        if code == OBJECT_IN_USE and confirmed_live(db, setup, heartbeat):
            return live
        raise VerificationFailed(f"{setup.user_name} cannot read slot {setup.slot_name}: {detail}") from None
    heartbeat_seen = None
    if heartbeat is not None:
        heartbeat_seen = seen(changes, heartbeat)
        # A backlog larger than the bounded peek may hide the heartbeat; only a short stream must show it.
        if not heartbeat_seen and len(changes) < PEEK_MAX_CHANGES:
            where = (
                f"logical message {HEARTBEAT_MESSAGE_PREFIX!r}"
                if heartbeat.message is not None
                else f"{setup.signal_table_schema}.{sql.HEARTBEAT_TABLE}, check that the table is in publication "
                f"{setup.publication_name}"
            )
            raise VerificationFailed(f"The heartbeat did not appear in slot {setup.slot_name}: {where}")
    return VerifyResult(
        wal_level=server.wal_level,
        published_tables=len(published),
        peek_ok=True,
        peeked_changes=len(changes),
        heartbeat_seen=heartbeat_seen,
        heartbeat=setup.chosen_heartbeat(),
        proof="peek",
    )


def confirmed_live(db: Database, setup: SetupInput, heartbeat: sql.Heartbeat | None) -> bool:
    """A connector streams from the slot, so it cannot be peeked: readiness is the connector
    confirming (confirmed_flush_lsn) the WAL past Verify's heartbeat, within a bounded wait well
    under the Lambda's timeout. Each poll is one short query. False: the connector let go of the
    slot meanwhile, so a peek can read it."""
    lsn = heartbeat.lsn if heartbeat is not None else sql.current_wal_lsn(db)
    deadline = time.monotonic() + LIVE_CONFIRM_SECONDS
    while True:
        progress = sql.slot_progress(db, setup.slot_name, lsn)
        if progress is None:
            raise VerificationFailed(f"Replication slot {setup.slot_name} disappeared while Verify waited on it")
        if not progress.active:
            return False
        if progress.confirmed:
            return True
        if time.monotonic() >= deadline:
            what = "the heartbeat" if heartbeat is not None else "the WAL"
            raise VerificationFailed(
                f"Replication slot {setup.slot_name} is streamed by process {progress.pid}, but that connector did "
                f"not confirm {what} written at {lsn} within {LIVE_CONFIRM_SECONDS}s: it is {progress.lag_bytes} "
                f"bytes behind (confirmed_flush_lsn {progress.confirmed_flush_lsn}). Check the connector is "
                "running and keeping up, then start the execution again"
            )
        time.sleep(LIVE_POLL_SECONDS)
