"""An existing slot whose WAL the server removed (max_slot_wal_keep_size, PostgreSQL 13+) is not reused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lambdas.dal import sql
from lambdas.shared.errors import SlotConflict
from local.postgres_server import LocalPostgres
from tests.integration.conftest import Harness, harness_on


@pytest.fixture
def lost_slot(new_server: LocalPostgres) -> Iterator[Harness]:
    """A server with slot cdc_slot left behind by more WAL than max_slot_wal_keep_size (1 MB) keeps."""
    new_server.restart(wal_level="logical")
    new_server.create_database("orders")
    conn = new_server.connect("orders")
    # Switching WAL segments and forcing a checkpoint need the superuser (RDS's rdsadmin does it).
    admin = new_server.connect_admin("orders")
    try:
        conn.run("SELECT pg_create_logical_replication_slot('cdc_slot', 'pgoutput')")
        if new_server.major_version >= 13:
            new_server.apply(max_slot_wal_keep_size="1MB")
        conn.run("CREATE TABLE public.orders (id int PRIMARY KEY, note text)")
        for batch in range(4):  # four 16 MB segments past the slot, then a checkpoint removes them
            conn.run("INSERT INTO public.orders SELECT i, repeat('x', 100) FROM generate_series(:a::int, :b::int) i",
                     a=batch * 1000, b=batch * 1000 + 999)  # fmt: skip
            admin.run("SELECT pg_switch_wal()")
        admin.run("CHECKPOINT")
    finally:
        admin.close()
        conn.close()
    with harness_on(new_server, "orders", schemas=["public"]) as harness:
        yield harness


def test_a_slot_whose_wal_was_removed_is_a_slot_conflict_naming_the_fix(lost_slot):
    with lost_slot.master() as db:
        found = sql.slot(db, "cdc_slot")
    lost_slot.configure()  # the user whose marker records the slot
    if lost_slot.server.major_version < 13:  # no max_slot_wal_keep_size: WAL is kept, the slot stays usable
        lost_slot.setup = lost_slot.setup.model_copy(update={"adopt": ["slot"]})  # made by hand: adopt it
        assert found.wal_status is None
        assert lost_slot.create_slot().changes == [
            "adopt existing replication slot cdc_slot (record it as rds-cdc-setup's)"
        ]
        assert lost_slot.create_slot().changes == []
        return
    assert found.wal_status == "lost"
    with pytest.raises(SlotConflict, match="pg_drop_replication_slot\\('cdc_slot'\\)"):
        lost_slot.create_slot()
    lost_slot.sql("SELECT pg_drop_replication_slot('cdc_slot')")
    assert lost_slot.create_slot().changes == ["created replication slot cdc_slot (pgoutput)"]
