"""Touch only what we own, through the real state machines on a real server: objects with the
workflow's names that it did not create are refused (NotOwned) and left exactly as they were,
unless the input adopts them; privileged roles are never touched; the CDC role gets no CREATE."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import boto3
import pytest

from local.postgres_server import LocalPostgres
from local.workflow_runner import ROOT, LocalWorkflow
from tests.snapshots import everything
from tests.workflow.conftest import INSTANCE, Stack, make_stack

pytestmark = pytest.mark.workflow

TEARDOWN_ASL = ROOT / "statemachine" / "cdc_teardown.asl.json"
USER_SECRET = f"rds-cdc-setup/{INSTANCE}/streamkap_user"
# What a DBA following Streamkap's guide by hand creates, with the guide's names.
GUIDE_BY_HAND = (
    "CREATE ROLE streamkap_role NOLOGIN",
    "CREATE ROLE streamkap_user LOGIN PASSWORD 'typed-by-a-dba'",
    "GRANT streamkap_role TO streamkap_user",
    "CREATE SCHEMA streamkap",
    "CREATE TABLE streamkap.streamkap_signal (id VARCHAR(255) PRIMARY KEY, type VARCHAR(32) NOT NULL, "
    "data VARCHAR(2000) NULL)",
    "CREATE PUBLICATION streamkap_pub FOR TABLE public.orders, streamkap.streamkap_signal",
    "SELECT pg_create_logical_replication_slot('streamkap_pgoutput_slot', 'pgoutput')",
)
UNDO_GUIDE = (
    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots",
    "DROP PUBLICATION IF EXISTS streamkap_pub",
    "DROP SCHEMA IF EXISTS streamkap CASCADE",
    "DROP ROLE IF EXISTS streamkap_user",
    "DROP ROLE IF EXISTS streamkap_role",
)


@pytest.fixture(scope="module")
def shared_stack() -> Iterator[Stack]:
    """One stack at wal_level logical for every refusal: a refused case leaves it as it found it."""
    server = LocalPostgres(settings={"wal_level": "logical"}).init().start()
    try:
        yield from make_stack(server)
    finally:
        server.destroy()


@pytest.fixture(scope="module")
def teardown(shared_stack: Stack) -> Iterator[LocalWorkflow]:
    with LocalWorkflow(asl_file=TEARDOWN_ASL) as workflow:
        yield workflow


def run_sql(stack: Stack, *statements: str, admin: bool = False) -> None:
    """As the master, or as the hidden admin (someone else: another team's roles and grants)."""
    conn = stack.server.connect_admin("orders") if admin else stack.server.connect("orders")
    try:
        for statement in statements:
            conn.run(statement)
    finally:
        conn.close()


def foreign_secret(stack: Stack) -> Callable[[], None]:
    """Someone's secret at the name the workflow would give the CDC user's secret (no owner tag)."""
    sm = boto3.client("secretsmanager")
    arn = sm.create_secret(
        Name=USER_SECRET, SecretString=json.dumps({"username": "streamkap_user", "password": "someone-elses"})
    )["ARN"]
    return lambda: sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


@dataclass
class Case:
    id: str
    input: dict
    message: str  # a fragment the refusal must contain
    error: str = "NotOwned"
    setup: tuple[str, ...] = ()
    cleanup: tuple[str, ...] = ()
    stage: Callable[[Stack], Callable[[], None]] | None = None
    admin: bool = False  # setup and cleanup run as someone the master is not
    extra: list[str] = field(default_factory=list)  # more fragments


CASES = [
    Case(
        "an application login as user_name is not re-passworded",
        {"user_name": "app_login"},
        "user app_login",
        setup=("CREATE ROLE app_login LOGIN PASSWORD 'the-apps-password'",),
        cleanup=("DROP ROLE app_login",),
        extra=["adopt: ['user']"],
    ),
    Case("the master as user_name", {"user_name": "master", "adopt": ["user"]}, "the workflow never changes"),
    Case(
        "the role owning the tables as role_name, even adopted",
        {"role_name": "app_owner", "adopt": ["role"]},
        "owns",
        setup=("CREATE ROLE app_owner NOLOGIN", "ALTER TABLE public.items OWNER TO app_owner"),
        cleanup=("ALTER TABLE public.items OWNER TO master", "DROP ROLE app_owner"),
        admin=True,
    ),
    Case(
        "a role with other members as role_name, even adopted",
        {"role_name": "readers", "adopt": ["role"]},
        "has members (analyst)",
        setup=("CREATE ROLE readers NOLOGIN", "CREATE ROLE analyst LOGIN IN ROLE readers"),
        cleanup=("DROP ROLE analyst", "DROP ROLE readers"),
    ),
    Case(
        "a signal table made by hand",
        {},
        "table streamkap.streamkap_signal",
        setup=GUIDE_BY_HAND[3:5],
        cleanup=("DROP SCHEMA streamkap CASCADE",),
        extra=["adopt: ['tables']"],
    ),
    Case(
        "a publication made by hand is neither altered nor extended",
        {},
        "publication streamkap_pub",
        setup=("CREATE PUBLICATION streamkap_pub FOR TABLE public.orders",),
        cleanup=("DROP PUBLICATION streamkap_pub",),
        extra=["adopt: ['publication']"],
    ),
    Case(
        "a slot made by hand",
        {},
        "Replication slot streamkap_pgoutput_slot exists but was not created by rds-cdc-setup",
        setup=("SELECT pg_create_logical_replication_slot('streamkap_pgoutput_slot', 'pgoutput')",),
        cleanup=("SELECT pg_drop_replication_slot('streamkap_pgoutput_slot')",),
    ),
    Case(
        "a secret at the workflow's secret name that it did not create",
        {},
        f"Secret {USER_SECRET} exists but is not one rds-cdc-setup created",
        stage=foreign_secret,
    ),
    Case(
        "the guide done by hand: every object listed in one refusal",
        {},
        "user streamkap_user",
        setup=GUIDE_BY_HAND[:6],
        cleanup=UNDO_GUIDE[1:],
        extra=["role streamkap_role", "table streamkap.streamkap_signal", "publication streamkap_pub"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_what_the_workflow_did_not_create_is_refused_and_left_as_it_was(shared_stack: Stack, case: Case):
    run_sql(shared_stack, *case.setup, admin=case.admin)
    undo = case.stage(shared_stack) if case.stage else None
    try:
        before = everything(shared_stack.server, "orders")
        execution = shared_stack.run(**case.input)
        after = everything(shared_stack.server, "orders")
    finally:
        if undo:
            undo()
        run_sql(shared_stack, *case.cleanup, admin=case.admin)
    assert execution.status == "FAILED"
    assert execution.error == case.error, execution.cause
    for fragment in [case.message, *case.extra]:
        assert fragment in execution.cause
    assert after == before
    assert shared_stack.instance.calls == []  # no RDS change: refused before EnsureParameterGroup


def test_the_foreign_secret_keeps_its_value(shared_stack: Stack):
    undo = foreign_secret(shared_stack)
    try:
        assert shared_stack.run().error == "NotOwned"
        value = boto3.client("secretsmanager").get_secret_value(SecretId=USER_SECRET)["SecretString"]
        assert json.loads(value)["password"] == "someone-elses"
    finally:
        undo()


# ---- teardown ----------------------------------------------------------------------------------

EVERYTHING = dict(drop_slot=True, drop_publication=True, drop_tables=True, drop_user=True)


@pytest.mark.parametrize(
    ("part", "named"),
    [
        ("drop_slot", "replication slot streamkap_pgoutput_slot"),
        ("drop_publication", "publication streamkap_pub"),
        ("drop_tables", "table streamkap.streamkap_signal"),
        ("drop_user", "user streamkap_user"),
    ],
)
def test_teardown_refuses_what_it_did_not_create(shared_stack: Stack, teardown: LocalWorkflow, part: str, named: str):
    run_sql(shared_stack, *GUIDE_BY_HAND)
    try:
        before = everything(shared_stack.server, "orders")
        execution = teardown.run({"db_instance_identifier": INSTANCE, part: True})
        after = everything(shared_stack.server, "orders")
    finally:
        run_sql(shared_stack, *UNDO_GUIDE)
    assert execution.error == "NotOwned", execution.cause
    assert named in execution.cause
    assert after == before


def test_teardown_removes_what_it_is_told_to_adopt(shared_stack: Stack, teardown: LocalWorkflow):
    run_sql(shared_stack, *GUIDE_BY_HAND)
    try:
        execution = teardown.run(
            {
                "db_instance_identifier": INSTANCE,
                **EVERYTHING,
                "adopt": ["slot", "publication", "tables", "schema", "user", "role"],
            }
        )
        left = shared_stack.sql(
            """SELECT (SELECT count(*) FROM pg_replication_slots), (SELECT count(*) FROM pg_publication),
                      (SELECT count(*) FROM pg_namespace WHERE nspname = 'streamkap'),
                      (SELECT count(*) FROM pg_roles WHERE rolname LIKE 'streamkap%')"""
        )
    finally:
        run_sql(shared_stack, *UNDO_GUIDE)
    assert execution.status == "SUCCEEDED", execution.cause
    assert left == [[0, 0, 0, 0]]


def test_teardown_never_drops_the_master_even_adopted(shared_stack: Stack, teardown: LocalWorkflow):
    before = everything(shared_stack.server, "orders")
    execution = teardown.run(
        {"db_instance_identifier": INSTANCE, "drop_user": True, "user_name": "master", "adopt": ["user"]}
    )
    assert execution.error == "NotOwned", execution.cause
    assert everything(shared_stack.server, "orders") == before


def test_a_dry_run_lists_each_refusal_in_its_plan_and_changes_nothing(shared_stack: Stack):
    run_sql(shared_stack, *GUIDE_BY_HAND[:6])
    try:
        before = everything(shared_stack.server, "orders")
        execution = shared_stack.run(dry_run=True)
        after = everything(shared_stack.server, "orders")
    finally:
        run_sql(shared_stack, *UNDO_GUIDE[1:])
    assert execution.status == "SUCCEEDED", execution.cause
    [refusal] = [line for line in execution.output["plan"] if line.startswith("refused (a real run stops here): ")]
    assert "user streamkap_user" in refusal and "adopt: ['role', 'user', 'tables', 'publication']" in refusal
    assert after == before
