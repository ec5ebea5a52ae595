"""A server whose lock table cannot hold every table ConfigureDatabase publishes in its one transaction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lambdas.shared.errors import CapacityExhausted
from local.postgres_server import LocalPostgres
from tests.integration.conftest import Harness, harness_on

TABLES = 2000
CHUNK = 100  # tables created per transaction: creating them must not exhaust the lock table itself


@pytest.fixture
def small_lock_table(new_server: LocalPostgres) -> Iterator[Harness]:
    # max_locks_per_transaction x (max_connections + background processes) = a few hundred locks.
    new_server.restart(max_locks_per_transaction="10", max_connections="20")
    new_server.create_database("orders")
    conn = new_server.connect("orders")
    try:
        for start in range(1, TABLES + 1, CHUNK):
            conn.run(
                f"DO $$ BEGIN FOR i IN {start}..{start + CHUNK - 1} LOOP "
                "EXECUTE format('CREATE TABLE public.t%s (id int PRIMARY KEY)', i); END LOOP; END $$"
            )
    finally:
        conn.close()
    with harness_on(new_server, "orders", schemas=["public"]) as harness:
        yield harness


def test_an_exhausted_lock_table_is_capacity_exhausted_with_the_setting_to_raise_and_nothing_changes(
    small_lock_table,
):
    with pytest.raises(CapacityExhausted, match="max_locks_per_transaction") as raised:
        small_lock_table.configure()
    assert "out of shared memory" in str(raised.value)
    assert small_lock_table.sql("SELECT count(*) FROM pg_roles WHERE rolname IN ('cdc_user', 'cdc_role')") == [[0]]
    assert small_lock_table.sql("SELECT count(*) FROM pg_publication") == [[0]]
