"""Verify, as the new user: what the Streamkap connector will do, without consuming anything."""

from __future__ import annotations

import struct

from pg8000.exceptions import DatabaseError

from lambdas.dal import sql
from lambdas.dal.database import Database, server_error
from lambdas.shared.errors import VerificationFailed, WorkflowError
from lambdas.shared.models import ConfigureResult, SetupInput, VerifyResult
from lambdas.shared.settings import environment

PEEK_MAX_CHANGES = 256


def writes_to(changes: list[bytes], relation_oid: int) -> bool:
    """Does the pgoutput stream hold an Insert or Update ('I'/'U' + relation oid) of this table?"""
    oid = struct.pack("!I", relation_oid)
    return any(change[:1] in (b"I", b"U") and change[1:5] == oid for change in changes)


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
    heartbeat_oid = sql.write_heartbeat(db, setup.signal_table_schema) if setup.heartbeat else None
    try:
        changes = sql.peek_slot(
            db,
            slot_name=setup.slot_name,
            publication=setup.publication_name,
            proto_version=server.pgoutput_proto_version,
            max_changes=PEEK_MAX_CHANGES,
            timeout_ms=environment().peek_timeout_ms,
        )
    except (WorkflowError, DatabaseError) as error:
        detail = server_error(error)[1] if isinstance(error, DatabaseError) else str(error)
        raise VerificationFailed(f"{setup.user_name} cannot read slot {setup.slot_name}: {detail}") from None
    heartbeat_seen = None
    if heartbeat_oid is not None:
        heartbeat_seen = writes_to(changes, heartbeat_oid)
        # A backlog larger than the bounded peek may hide the heartbeat; only a short stream must show it.
        if not heartbeat_seen and len(changes) < PEEK_MAX_CHANGES:
            raise VerificationFailed(
                f"The heartbeat written to {setup.signal_table_schema}.{sql.HEARTBEAT_TABLE} did not appear in "
                f"slot {setup.slot_name}: check that the table is in publication {setup.publication_name}"
            )
    return VerifyResult(
        wal_level=server.wal_level,
        published_tables=len(published),
        peek_ok=True,
        peeked_changes=len(changes),
        heartbeat_seen=heartbeat_seen,
    )
