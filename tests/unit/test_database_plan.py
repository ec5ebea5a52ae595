"""The ConfigureDatabase diff, on synthetic catalog states (no database)."""

from __future__ import annotations

import pytest

from lambdas.dal.sql import CatalogState, Relation, ServerInfo
from lambdas.logic.database_setup import plan_database
from lambdas.shared.errors import InsufficientPrivilege, InvalidInput, PublicationConflict, ReplicaIdentityMissing
from lambdas.shared.models import SetupInput

SETUP = SetupInput(db_instance_identifier="orders-prod", database="orders")


def server(major: int = 15, rds: bool = False) -> ServerInfo:
    return ServerInfo(
        version_num=major * 10000 + 4,
        wal_level="logical",
        current_user="master",
        is_superuser=not rds,
        is_rds_superuser=rds,
        rds_replication_exists=rds,
        max_replication_slots=10,
        max_wal_senders=10,
        replication_slots_used=0,
    )


def table(
    oid: int,
    name: str,
    *,
    kind: str = "r",
    partition: bool = False,
    pk: bool = True,
    identity: str = "d",
    selectable: bool = False,
) -> Relation:
    return Relation(oid, "public", name, kind, partition, pk, identity, selectable)


STOCK = CatalogState(
    database="orders",
    schemas={"public": frozenset()},
    relations=(table(1, "orders"), table(2, "events", kind="p"), table(3, "events_2026", partition=True)),
    partition_leaves={2: (3,)},
)

READY = CatalogState(
    database="orders",
    user_exists=True,
    user_can_login=True,
    user_has_replication=True,
    role_exists=True,
    user_in_role=True,
    database_privileges=frozenset({"CONNECT", "CREATE"}),
    schemas={"public": frozenset({"USAGE", "CREATE"}), "streamkap": frozenset({"USAGE"})},
    default_select_schemas=frozenset({"public"}),
    relations=tuple(
        table(r.oid, r.name, kind=r.kind, partition=r.is_partition, selectable=True) for r in STOCK.relations
    ),
    partition_leaves={2: (3,)},
    signal_schema_exists=True,
    signal_schema_usage=True,
    own_tables={
        "streamkap_signal": frozenset({"SELECT", "INSERT", "UPDATE"}),
        "streamkap_heartbeat": frozenset({"SELECT", "INSERT", "UPDATE"}),
    },
    publication_exists=True,
    publication_via_root=True,
    publication_tables=frozenset(
        {"public.orders", "public.events", "streamkap.streamkap_signal", "streamkap.streamkap_heartbeat"}
    ),
)


def descriptions(changes) -> list[str]:
    return [c.description for c in changes]


def test_a_stock_database_gets_every_step_of_the_guide_in_order():
    changes = descriptions(plan_database(STOCK, SETUP, server()))
    assert changes == [
        "create role streamkap_role",
        "create user streamkap_user (password in a new Secrets Manager secret)",
        "grant streamkap_role to streamkap_user",
        "give streamkap_user the REPLICATION attribute (self-managed PostgreSQL)",
        "grant CONNECT, CREATE on database orders to streamkap_role",
        "grant USAGE, CREATE on schema public to streamkap_role",
        "grant SELECT on all tables in schema public to streamkap_role",
        "grant SELECT on tables created later in schema public to streamkap_role",
        "create schema streamkap",
        "grant USAGE on schema streamkap to streamkap_role",
        "create table streamkap.streamkap_signal",
        "grant SELECT, INSERT, UPDATE on streamkap.streamkap_signal to streamkap_role",
        "create table streamkap.streamkap_heartbeat",
        "grant SELECT, INSERT, UPDATE on streamkap.streamkap_heartbeat to streamkap_role",
        "create publication streamkap_pub with 4 tables",
    ]


def test_a_ready_database_needs_nothing():
    assert plan_database(READY, SETUP, server()) == []


def test_on_rds_the_role_gets_rds_replication_not_the_attribute():
    changes = descriptions(plan_database(STOCK, SETUP, server(rds=True)))
    assert "grant rds_replication to streamkap_role" in changes
    assert not any("REPLICATION attribute" in c for c in changes)


def test_pg13_and_later_publish_partition_roots_with_publish_via_partition_root():
    (publication,) = [c for c in plan_database(STOCK, SETUP, server(15)) if "publication" in c.description]
    assert publication.statements == (
        'CREATE PUBLICATION "streamkap_pub" FOR TABLE "public"."orders", "public"."events", '
        '"streamkap"."streamkap_signal", "streamkap"."streamkap_heartbeat" WITH (publish_via_partition_root = true)',
    )


def test_pg12_and_earlier_publish_leaf_partitions_without_the_option():
    (publication,) = [c for c in plan_database(STOCK, SETUP, server(12)) if "publication" in c.description]
    assert '"public"."events_2026"' in publication.statements[0]
    assert '"public"."events",' not in publication.statements[0]
    assert "publish_via_partition_root" not in publication.statements[0]


def test_identifiers_are_quoted_whatever_they_hold():
    setup = SETUP.model_copy(update={"role_name": 'r"; DROP DATABASE orders; --'})
    (create_role,) = plan_database(STOCK, setup, server())[0].statements
    assert create_role == 'CREATE ROLE "r""; DROP DATABASE orders; --" NOLOGIN'


def test_table_without_key_fails_the_check_naming_it():
    state = CatalogState(database="orders", schemas={"public": frozenset()}, relations=(table(1, "audit", pk=False),))
    with pytest.raises(ReplicaIdentityMissing, match="public.audit"):
        plan_database(state, SETUP, server())


@pytest.mark.parametrize(("identity", "fails"), [("d", True), ("n", True), ("f", False), ("i", False)])
def test_replica_identity_settings_decide_for_tables_without_key(identity, fails):
    state = CatalogState(
        database="orders", schemas={"public": frozenset()}, relations=(table(1, "audit", pk=False, identity=identity),)
    )
    if fails:
        with pytest.raises(ReplicaIdentityMissing):
            plan_database(state, SETUP, server())
    else:
        plan_database(state, SETUP, server())


def test_full_policy_alters_the_leaf_partitions_that_lack_a_key():
    state = CatalogState(
        database="orders",
        schemas={"public": frozenset()},
        relations=(table(2, "events", kind="p", pk=False), table(3, "events_a", partition=True, pk=False)),
        partition_leaves={2: (3,)},
    )
    changes = plan_database(state, SETUP.model_copy(update={"replica_identity": "full"}), server())
    assert 'ALTER TABLE "public"."events_a" REPLICA IDENTITY FULL' in [s for c in changes for s in c.statements]


def test_existing_publication_gets_only_the_missing_tables():
    state = CatalogState(**{**READY.__dict__, "publication_tables": READY.publication_tables - {"public.orders"}})
    changes = plan_database(state, SETUP, server())
    assert [c.statements for c in changes] == [('ALTER PUBLICATION "streamkap_pub" ADD TABLE "public"."orders"',)]


def test_existing_publication_with_foreign_tables_is_a_conflict():
    state = CatalogState(**{**READY.__dict__, "publication_tables": READY.publication_tables | {"hr.salaries"}})
    with pytest.raises(PublicationConflict, match="hr.salaries"):
        plan_database(state, SETUP, server())


def test_missing_schema_is_invalid_input():
    with pytest.raises(InvalidInput, match="sales"):
        plan_database(STOCK, SETUP.model_copy(update={"schemas": ["public", "sales"]}), server())


def test_an_existing_user_whose_secret_was_lost_gets_a_new_password():
    changes = descriptions(plan_database(READY, SETUP, server(), password_is_new=True))
    assert changes == ["set the password of existing user streamkap_user (stored in a new secret)"]


def test_changes_on_tables_the_master_user_does_not_own_are_refused_up_front():
    state = CatalogState(
        **{
            **STOCK.__dict__,
            "partition_leaves": {},
            "relations": (
                table(1, "orders"),
                Relation(9, "public", "payroll", "r", False, True, "d", False, owned=False),
            ),
        }
    )
    with pytest.raises(InsufficientPrivilege, match="table public.payroll") as raised:
        plan_database(state, SETUP, server(rds=True))
    assert "public.orders" not in str(raised.value)


def test_a_master_user_without_createrole_cannot_create_the_user():
    no_createrole = ServerInfo(**{**server(rds=True).__dict__, "can_create_role": False})
    with pytest.raises(InsufficientPrivilege, match="CREATEROLE"):
        plan_database(STOCK, SETUP, no_createrole)


def test_an_unowned_table_already_published_and_granted_needs_no_ownership():
    unowned_ready = CatalogState(
        **{
            **READY.__dict__,
            "relations": tuple(
                Relation(
                    r.oid,
                    r.schema,
                    r.name,
                    r.kind,
                    r.is_partition,
                    r.has_primary_key,
                    r.replica_identity,
                    True,
                    owned=False,
                )
                for r in READY.relations
            ),
        }
    )
    assert plan_database(unowned_ready, SETUP, server()) == []
