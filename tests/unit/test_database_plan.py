"""The ConfigureDatabase diff, on synthetic catalog states (no database)."""

from __future__ import annotations

import pytest

from lambdas.dal.sql import CatalogState, Relation, RoleState, ServerInfo
from lambdas.logic.database_plan import plan_database
from lambdas.shared.errors import (
    InsufficientPrivilege,
    InvalidInput,
    NotOwned,
    PublicationConflict,
    ReplicaIdentityMissing,
)
from lambdas.shared.models import SetupInput
from lambdas.shared.ownership import marker, user_marker

# heartbeat as Preflight resolves "auto" for a server below 14 (or one with our table already there)
SETUP = SetupInput(db_instance_identifier="orders-prod", database="orders", heartbeat="table")


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

OUR_USER = RoleState(can_login=True, replication=True, comment=user_marker())
OUR_ROLE = RoleState(members=("streamkap_user",), comment=marker("Streamkap CDC group role"))

READY = CatalogState(
    database="orders",
    user=OUR_USER,
    role=OUR_ROLE,
    user_in_role=True,
    database_privileges=frozenset({"CONNECT"}),
    schemas={"public": frozenset({"USAGE"}), "streamkap": frozenset({"USAGE"})},
    default_select=frozenset({("master", "public")}),
    relations=tuple(
        table(r.oid, r.name, kind=r.kind, partition=r.is_partition, selectable=True) for r in STOCK.relations
    ),
    partition_leaves={2: (3,)},
    signal_schema_exists=True,
    signal_schema_usage=True,
    signal_schema_marked=True,
    own_tables={
        "streamkap_signal": frozenset({"SELECT", "INSERT", "UPDATE"}),
        "streamkap_heartbeat": frozenset({"SELECT", "INSERT", "UPDATE"}),
    },
    own_tables_marked=frozenset({"streamkap_signal", "streamkap_heartbeat"}),
    publication_exists=True,
    publication_via_root=True,
    publication_tables=frozenset(
        {"public.orders", "public.events", "streamkap.streamkap_signal", "streamkap.streamkap_heartbeat"}
    ),
    publication_marked=True,
)


def descriptions(changes) -> list[str]:
    return [c.description for c in changes]


def plan(state: CatalogState, setup: SetupInput = SETUP, srv: ServerInfo | None = None, **kwargs):
    """The plan with the secret present exactly when the user is (a finished or crashed earlier run)."""
    kwargs.setdefault("secret_exists", state.user is not None)
    return plan_database(state, setup, srv or server(), **kwargs)


def with_(state: CatalogState, **changes) -> CatalogState:
    return CatalogState(**{**state.__dict__, **changes})


def statements(changes) -> list[str]:
    return [statement for change in changes for statement in change.statements]


def test_a_stock_database_gets_every_step_of_the_guide_in_order():
    changes = descriptions(plan(STOCK, SETUP, server()))
    assert changes == [
        "create role streamkap_role",
        "create user streamkap_user (password in a new Secrets Manager secret)",
        "grant streamkap_role to streamkap_user",
        "give streamkap_user the REPLICATION attribute (self-managed PostgreSQL)",
        "grant CONNECT on database orders to streamkap_role",
        "grant USAGE on schema public to streamkap_role",
        "grant SELECT on all tables in schema public to streamkap_role",
        "grant SELECT on tables master creates later in schema public to streamkap_role",
        "create schema streamkap",
        "grant USAGE on schema streamkap to streamkap_role",
        "create table streamkap.streamkap_signal",
        "grant SELECT, INSERT, UPDATE on streamkap.streamkap_signal to streamkap_role",
        "create table streamkap.streamkap_heartbeat",
        "grant SELECT, INSERT, UPDATE on streamkap.streamkap_heartbeat to streamkap_role",
        "create publication streamkap_pub with 4 tables",
    ]


def test_a_ready_database_needs_nothing():
    assert plan(READY, SETUP, server()) == []


def test_on_rds_the_role_gets_rds_replication_not_the_attribute():
    changes = descriptions(plan(STOCK, SETUP, server(rds=True)))
    assert "grant rds_replication to streamkap_role" in changes
    assert not any("REPLICATION attribute" in c for c in changes)


def test_pg13_and_later_publish_partition_roots_with_publish_via_partition_root():
    (publication,) = [c for c in plan(STOCK, SETUP, server(15)) if "publication" in c.description]
    assert publication.statements == (
        'CREATE PUBLICATION "streamkap_pub" FOR TABLE "public"."orders", "public"."events", '
        '"streamkap"."streamkap_signal", "streamkap"."streamkap_heartbeat" WITH (publish_via_partition_root = true)',
        "COMMENT ON PUBLICATION \"streamkap_pub\" IS 'rds-cdc-setup: Streamkap CDC publication'",
    )


def test_pg12_and_earlier_publish_leaf_partitions_without_the_option():
    (publication,) = [c for c in plan(STOCK, SETUP, server(12)) if "publication" in c.description]
    assert '"public"."events_2026"' in publication.statements[0]
    assert '"public"."events",' not in publication.statements[0]
    assert "publish_via_partition_root" not in publication.statements[0]


def test_identifiers_are_quoted_whatever_they_hold():
    setup = SETUP.model_copy(update={"role_name": 'r"; DROP DATABASE orders; --'})
    create_role, comment = plan(STOCK, setup, server())[0].statements
    assert create_role == 'CREATE ROLE "r""; DROP DATABASE orders; --" NOLOGIN'
    assert comment.startswith('COMMENT ON ROLE "r""; DROP DATABASE orders; --" IS')


def test_table_without_key_fails_the_check_naming_it():
    state = CatalogState(database="orders", schemas={"public": frozenset()}, relations=(table(1, "audit", pk=False),))
    with pytest.raises(ReplicaIdentityMissing, match="public.audit"):
        plan(state, SETUP, server())


@pytest.mark.parametrize(("identity", "fails"), [("d", True), ("n", True), ("f", False), ("i", False)])
def test_replica_identity_settings_decide_for_tables_without_key(identity, fails):
    state = CatalogState(
        database="orders", schemas={"public": frozenset()}, relations=(table(1, "audit", pk=False, identity=identity),)
    )
    if fails:
        with pytest.raises(ReplicaIdentityMissing):
            plan(state, SETUP, server())
    else:
        plan(state, SETUP, server())


def test_full_policy_alters_the_leaf_partitions_that_lack_a_key():
    state = CatalogState(
        database="orders",
        schemas={"public": frozenset()},
        relations=(table(2, "events", kind="p", pk=False), table(3, "events_a", partition=True, pk=False)),
        partition_leaves={2: (3,)},
    )
    changes = plan(state, SETUP.model_copy(update={"replica_identity": "full"}), server())
    assert 'ALTER TABLE "public"."events_a" REPLICA IDENTITY FULL' in [s for c in changes for s in c.statements]


def test_existing_publication_gets_only_the_missing_tables():
    state = CatalogState(**{**READY.__dict__, "publication_tables": READY.publication_tables - {"public.orders"}})
    changes = plan(state, SETUP, server())
    assert [c.statements for c in changes] == [('ALTER PUBLICATION "streamkap_pub" ADD TABLE "public"."orders"',)]


def test_existing_publication_with_foreign_tables_is_a_conflict():
    state = CatalogState(**{**READY.__dict__, "publication_tables": READY.publication_tables | {"hr.salaries"}})
    with pytest.raises(PublicationConflict, match="hr.salaries"):
        plan(state, SETUP, server())


def test_missing_schema_is_invalid_input():
    with pytest.raises(InvalidInput, match="sales"):
        plan(STOCK, SETUP.model_copy(update={"schemas": ["public", "sales"]}), server())


def test_an_existing_user_whose_secret_was_lost_is_refused_without_rotate_password():
    with pytest.raises(InvalidInput, match="rotate_password"):
        plan(READY, secret_exists=False)


def test_rotate_password_sets_the_password_from_the_secret():
    changes = plan(READY, SETUP.model_copy(update={"rotate_password": True}), secret_exists=False)
    assert descriptions(changes) == [
        "set the password of streamkap_user to the one in a new secret (rotate_password; new logins with the old "
        "password fail)"
    ]
    assert statements(changes)[0].startswith('ALTER ROLE "streamkap_user" LOGIN PASSWORD \'SCRAM-SHA-256$')


def test_our_user_without_login_may_log_in_again_with_its_secret():
    changes = plan(with_(READY, user=RoleState(replication=True, comment=user_marker())))
    assert descriptions(changes) == ["allow streamkap_user to log in with the password in its secret"]


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
        plan(state, SETUP, server(rds=True))
    assert "public.orders" not in str(raised.value)


def test_a_master_user_without_createrole_cannot_create_the_user():
    no_createrole = ServerInfo(**{**server(rds=True).__dict__, "can_create_role": False})
    with pytest.raises(InsufficientPrivilege, match="CREATEROLE"):
        plan(STOCK, SETUP, no_createrole)


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
    assert plan(unowned_ready, SETUP, server()) == []


# ---- ownership: only what the workflow created (or was told to adopt) -----------------------

SOMEONES_LOGIN = RoleState(can_login=True, replication=True)


def test_no_create_is_granted_anywhere():
    assert not any("CREATE" in s and s.startswith("GRANT") for s in statements(plan(STOCK)))


def test_create_granted_to_our_role_by_an_earlier_version_is_revoked():
    state = with_(READY, database_create_granted=True, schemas_create_granted=frozenset({"public"}))
    assert statements(plan(state)) == [
        'REVOKE CREATE ON DATABASE "orders" FROM "streamkap_role"',
        'REVOKE CREATE ON SCHEMA "public" FROM "streamkap_role"',
    ]


def test_default_privileges_are_set_for_each_table_owner_the_master_can_act_for():
    relations = (
        Relation(1, "public", "orders", "r", False, True, "d", True, owned=True, owner="app"),
        Relation(2, "public", "payroll", "r", False, True, "d", True, owned=False, owner="hr"),
    )
    state = with_(
        READY,
        relations=relations,
        partition_leaves={},
        publication_tables=frozenset(
            {"public.orders", "public.payroll", "streamkap.streamkap_signal", "streamkap.streamkap_heartbeat"}
        ),
    )
    assert statements(plan(state)) == [
        'ALTER DEFAULT PRIVILEGES FOR ROLE "app" IN SCHEMA "public" GRANT SELECT ON TABLES TO "streamkap_role"'
    ]


def test_every_object_that_is_not_ours_is_listed_in_one_refusal_with_its_adopt_kind():
    state = with_(
        READY,
        user=SOMEONES_LOGIN,
        own_tables_marked=frozenset(),
        publication_marked=False,
    )
    with pytest.raises(NotOwned) as refused:
        plan(state)
    message = str(refused.value)
    for named in ("user streamkap_user", "table streamkap.streamkap_signal", "publication streamkap_pub"):
        assert named in message
    assert "adopt: ['user', 'tables', 'publication']" in message


def test_adopting_marks_each_object_and_changes_no_password():
    state = with_(READY, user=SOMEONES_LOGIN, own_tables_marked=frozenset(), publication_marked=False)
    setup = SETUP.model_copy(update={"adopt": ["user", "tables", "publication"]})
    changes = plan(state, setup)
    assert descriptions(changes) == [
        "adopt existing user streamkap_user (mark it as rds-cdc-setup's; its password is kept unless rotate_password)",
        "adopt existing table streamkap.streamkap_signal (mark it as rds-cdc-setup's)",
        "adopt existing table streamkap.streamkap_heartbeat (mark it as rds-cdc-setup's)",
        "adopt existing publication streamkap_pub (mark it as rds-cdc-setup's)",
    ]
    assert all(s.startswith("COMMENT ON") for s in statements(changes))


def test_an_unmarked_role_is_adopted_only_on_request():
    state = with_(READY, role=RoleState(members=("streamkap_user",)))
    with pytest.raises(NotOwned, match=r"role streamkap_role.*adopt: \['role'\]"):
        plan(state)
    changes = plan(state, SETUP.model_copy(update={"adopt": ["role"]}))
    assert statements(changes) == ["COMMENT ON ROLE \"streamkap_role\" IS 'rds-cdc-setup: Streamkap CDC group role'"]


@pytest.mark.parametrize(
    ("user", "master_username", "reason"),
    [
        (RoleState(can_login=True, superuser=True, comment=user_marker()), None, "is a superuser"),
        (RoleState(can_login=True, rds_superuser=True), None, "is a member of rds_superuser"),
        (RoleState(can_login=True, connected_as=True), None, "is the user the workflow connects as"),
        (RoleState(can_login=True, comment=user_marker()), "streamkap_user", "is the instance's master user"),
    ],
)
def test_privileged_roles_are_never_touched_even_when_marked_or_adopted(user, master_username, reason):
    setup = SETUP.model_copy(update={"adopt": ["user"], "rotate_password": True})
    with pytest.raises(NotOwned, match=reason):
        plan(with_(READY, user=user), setup, master_username=master_username)


@pytest.mark.parametrize(
    ("field", "role", "reason"),
    [
        ("user", RoleState(can_login=True, owned_objects=3), "owns 3 objects"),
        ("role", RoleState(owned_objects=1, members=("streamkap_user",)), "owns 1 objects"),
        ("role", RoleState(members=("streamkap_user", "app_writer")), r"has members \(app_writer\)"),
        ("user", RoleState(can_login=True, members=("reporting",)), r"has members \(reporting\)"),
    ],
)
def test_a_role_in_use_is_not_adopted_even_on_request(field, role, reason):
    setup = SETUP.model_copy(update={"adopt": ["user", "role"]})
    with pytest.raises(NotOwned, match=reason):
        plan(with_(READY, **{field: role}), setup)


def test_our_own_role_may_have_our_user_as_member():
    assert plan(with_(READY, role=RoleState(members=("streamkap_user",), comment=marker("x")))) == []


def test_an_adopted_publication_keeps_its_publish_via_partition_root():
    state = with_(READY, publication_marked=False, publication_via_root=False)
    changes = plan(state, SETUP.model_copy(update={"adopt": ["publication"]}))
    assert not any("publish_via_partition_root" in s for s in statements(changes))


def test_an_existing_signal_schema_is_used_and_marked_only_when_adopted():
    state = with_(READY, signal_schema_marked=False)
    assert plan(state) == []
    changes = plan(state, SETUP.model_copy(update={"adopt": ["schema"]}))
    assert descriptions(changes) == [
        "adopt existing schema streamkap (mark it as rds-cdc-setup's: teardown drops it once empty)"
    ]


def test_a_new_user_in_a_crashed_runs_secret_is_created_with_that_password():
    changes = plan(STOCK, secret_exists=True)
    assert "create user streamkap_user (password in its existing secret)" in descriptions(changes)
