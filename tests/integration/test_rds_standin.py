"""The local server plays RDS for PostgreSQL: the tests elsewhere are only as good as this."""

from __future__ import annotations

import pg8000.native
import pytest
from pg8000.exceptions import DatabaseError
from pg8000.native import identifier

from local.postgres_server import ADMIN_USER

pytestmark = pytest.mark.integration


def test_the_master_is_what_rds_hands_out_not_a_superuser(pg_server):
    conn = pg_server.connect()
    try:
        [attributes] = conn.run(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname = current_user"
        )
        assert attributes == [False, True, True, True]
        assert conn.run("SELECT pg_has_role('rds_superuser', 'MEMBER')") == [[True]]
        assert conn.run("SELECT rolcanlogin FROM pg_roles WHERE rolname LIKE 'rds\\_%' ORDER BY rolname") == [
            [False],
            [False],
        ]
        assert conn.run("SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = 'postgres'") == [
            [ADMIN_USER]
        ]
        with pytest.raises(DatabaseError, match="permission denied"):
            conn.run("SELECT rolpassword FROM pg_authid")  # password hashes: the superuser's only
    finally:
        conn.close()


def test_the_admin_is_reachable_through_the_socket_only(pg_server):
    with pytest.raises(DatabaseError, match="pg_hba.conf rejects"):
        pg8000.native.Connection(user=ADMIN_USER, password="anything", host=pg_server.host, port=pg_server.port)
    admin = pg_server.connect_admin()
    try:
        assert admin.run("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == [[True]]
    finally:
        admin.close()


def test_rds_replication_membership_lets_a_login_use_slots_until_it_is_revoked(pg_server, names):
    user, role = identifier(names.user), identifier(names.role)
    master = pg_server.connect(names.database)
    try:
        master.run(f"CREATE ROLE {role} NOLOGIN")
        master.run(f"CREATE ROLE {user} LOGIN PASSWORD 'local-pw' IN ROLE {role}")
        master.run(f"GRANT rds_replication TO {role}")  # what the master can do on RDS (ADMIN via rds_superuser)
        master.run("CREATE PUBLICATION standin_pub")
    finally:
        master.close()

    as_user = pg_server.connect(names.database, user=names.user, password="local-pw")
    try:
        as_user.run("SELECT pg_create_logical_replication_slot(:s, 'pgoutput')", s=names.slot)
        peek = "SELECT count(*) FROM pg_logical_slot_peek_binary_changes(:s, NULL, NULL, 'proto_version', '1', "
        assert as_user.run(peek + "'publication_names', 'standin_pub')", s=names.slot) == [[0]]
    finally:
        as_user.close()

    master = pg_server.connect(names.database)
    master.run(f"REVOKE rds_replication FROM {role}")
    master.close()
    as_user = pg_server.connect(names.database, user=names.user, password="local-pw")
    try:
        with pytest.raises(DatabaseError, match="replication"):
            as_user.run("SELECT pg_create_logical_replication_slot(:s, 'pgoutput')", s=names.slot + "_2")
    finally:
        as_user.close()


def test_a_replication_attribute_the_sync_did_not_give_is_left_alone(pg_server, names):
    admin = pg_server.connect_admin()
    try:
        admin.run(f"CREATE ROLE {identifier(names.user)} LOGIN REPLICATION")
        pg_server.sync_rds_replication()
        assert admin.run("SELECT rolreplication FROM pg_roles WHERE rolname = :u", u=names.user) == [[True]]
    finally:
        admin.close()


def test_self_managed_mode_has_a_superuser_master_and_no_rds_roles(self_managed_server):
    conn = self_managed_server.connect()
    try:
        assert conn.run("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == [[True]]
        assert conn.run("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'rds\\_%'") == [[0]]
    finally:
        conn.close()
