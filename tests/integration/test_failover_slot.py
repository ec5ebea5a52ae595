"""failover_slot on a real server: PostgreSQL 17+ (the matrix's 17 run) creates the slot with failover,
turns it on for an existing slot of ours over a replication connection without moving it, and
Preflight's plan says what the standby still needs; below 17 (the default server, 15) Preflight
refuses by name before anything changes."""

from __future__ import annotations

import pytest

from lambdas.dal.secrets import Secrets
from lambdas.logic.parameter_group import FAILOVER_SLOT_MAJOR
from lambdas.logic.preflight import preflight
from lambdas.shared.errors import InvalidInput
from tests.snapshots import everything

pytestmark = pytest.mark.integration


def slot_row(harness) -> list:
    return harness.sql(
        "SELECT slot_name::text, plugin::text, slot_type, database::text, temporary, failover, restart_lsn::text, "
        "confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = :s",
        s=harness.setup.slot_name,
    )


def test_failover_slot_creates_or_alters_the_slot_on_17_and_is_refused_by_name_below(harness):
    # Given a configured database and the option on
    harness.configure()
    harness.setup = harness.setup.model_copy(update={"failover_slot": True})
    if harness.server.major_version < FAILOVER_SLOT_MAJOR:
        # Then below 17 Preflight refuses, saying what would work, and nothing changed
        before = everything(harness.server, harness.database)
        refused = r"failover_slot needs PostgreSQL 17\+.*leave failover_slot false"
        with pytest.raises(InvalidInput, match=refused), harness.master() as db:
            preflight(db, Secrets(), harness.setup, harness.target)
        assert everything(harness.server, harness.database) == before
        return

    # When the slot is new, Preflight plans it with failover and names what the standby side still needs
    with harness.master() as db:
        plan = preflight(db, Secrets(), harness.setup, harness.target).plan
    slot = harness.setup.slot_name
    assert (
        f"create replication slot {slot} (pgoutput, failover: synced to standbys running sync_replication_slots)"
        in plan
    )
    standby = next(line for line in plan if line.startswith("synchronized_standby_slots is not set"))
    assert "no physical slot: no standby streams from it yet" in standby

    # Then CreateSlot creates it with failover = true
    assert harness.create_slot().changes == [
        f"created replication slot {slot} (pgoutput, failover: synced to standbys running sync_replication_slots)"
    ]
    assert slot_row(harness)[0][:6] == [slot, "pgoutput", "logical", harness.database, False, True]
    assert harness.create_slot().changes == []  # a re-run leaves it as it is

    # Given our slot without failover (made by a run without the option)
    harness.sql("SELECT pg_drop_replication_slot(:s)", s=slot)
    plain = harness.setup.model_copy(update={"failover_slot": False})
    harness.setup, with_option = plain, harness.setup
    harness.create_slot()
    before = slot_row(harness)
    assert before[0][5] is False
    harness.setup = with_option

    # When the option is on again, the plan says what it does and CreateSlot alters the slot in place
    with harness.master() as db:
        plan = preflight(db, Secrets(), harness.setup, harness.target).plan
    altering = f"set failover on replication slot {slot} (ALTER_REPLICATION_SLOT over a replication connection"
    assert any(line.startswith(altering) for line in plan)
    [change] = harness.create_slot().changes
    assert change.startswith(altering)
    after = slot_row(harness)
    assert after[0][5] is True
    assert after[0][:5] + after[0][6:] == before[0][:5] + before[0][6:]  # same slot, same position
