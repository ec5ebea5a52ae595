"""Teardown's database steps on a real PostgreSQL, after ConfigureDatabase and CreateSlot."""

from __future__ import annotations

import pytest
from pg8000.exceptions import DatabaseError
from pg8000.native import identifier

from lambdas.dal.secrets import Secrets
from lambdas.logic import teardown
from lambdas.shared.errors import DependentObjects
from lambdas.shared.teardown_models import TeardownInput

pytestmark = pytest.mark.integration


def teardown_input(harness, **parts) -> TeardownInput:
    s = harness.setup
    return TeardownInput(
        db_instance_identifier=s.db_instance_identifier,
        database=harness.database,
        user_name=s.user_name,
        role_name=s.role_name,
        slot_name=s.slot_name,
        **parts,
    )


def roles(harness) -> list[list[str]]:
    return harness.sql(
        "SELECT rolname::text FROM pg_roles WHERE rolname IN (:u, :r) ORDER BY 1",
        u=harness.setup.user_name,
        r=harness.setup.role_name,
    )


def test_a_role_with_privileges_in_another_database_is_refused_and_nothing_is_removed(harness):
    configured = harness.configure()
    other = f"{harness.database}_other"
    harness.server.create_database(other)
    conn = harness.server.connect(other)
    conn.run(f"GRANT USAGE ON SCHEMA public TO {identifier(harness.setup.role_name)}")
    conn.close()
    try:
        with harness.master() as db, pytest.raises(DependentObjects, match=f"1 object in database {other}"):
            teardown.drop_user(db, Secrets(), teardown_input(harness, drop_user=True), harness.target)
        assert len(roles(harness)) == 2
        kept = Secrets().inspect_user_secret(configured.secret_arn, kms_key_arn=None)
        assert kept.arn == configured.secret_arn  # kept with its role
    finally:
        harness.server.drop_database(other)


def test_an_rds_like_master_takes_over_the_roles_and_keeps_what_the_user_created(harness):
    # The stand-in's master is RDS's: no superuser, only CREATEROLE and a member of rds_superuser;
    # it owns the application's tables and makes every grant, and is no member of the CDC roles.
    master = harness.server.master_user
    assert harness.sql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == [[False]]
    configured = harness.configure()
    user = harness.as_user(configured.secret_arn)
    if harness.server.major_version >= 15:  # PG10-14: PUBLIC may create in public unless revoked
        with pytest.raises(DatabaseError, match="permission denied for schema public"):
            user.run("CREATE TABLE public.made_by_user (id int)")
    # The workflow grants no CREATE; someone else did, and the user made a table.
    harness.sql(f"GRANT CREATE ON SCHEMA inventory TO {identifier(harness.setup.user_name)}")
    user.run("CREATE TABLE inventory.made_by_user (id int)")
    user.close()

    with harness.master() as db:
        changes = teardown.drop_user(db, Secrets(), teardown_input(harness, drop_user=True), harness.target)

    assert changes[:2] == [
        f"grant {harness.setup.user_name} to {master} to take over its objects",
        f"grant {harness.setup.role_name} to {master} to take over its objects",
    ]
    assert roles(harness) == []
    assert harness.sql("SELECT tableowner::text FROM pg_tables WHERE tablename = 'made_by_user'") == [[master]]
    assert Secrets().inspect_user_secret(configured.secret_arn, kms_key_arn=None).arn is None
