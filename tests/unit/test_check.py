"""The check's rules (lambdas/logic/check.py) as pure functions, and its input: what the real server in
tests/workflow/test_check.py cannot easily be made to show (a lost slot, PostgreSQL 17's inactive_since,
wal_level replica with a slot), the findings' exact words a DBA acts on, the ownership decisions
(database_check) and what RepairTarget runs from them (fakes for the ports). `make mutate` holds these
to their rules: a surviving mutant names an untested one."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from lambdas.dal.secrets import SecretState
from lambdas.dal.sql import CatalogState, Relation, ServerInfo, SlotInfo
from lambdas.handlers.validate_check_input import parse_input
from lambdas.logic import check as check_module
from lambdas.logic.check import (
    captured_tables,
    database_check,
    login_findings,
    parameter_findings,
    publication_findings,
    repair_target,
    report_check,
    server_findings,
    slot_findings,
    table_findings,
)
from lambdas.shared.check_models import (
    CheckInput,
    CheckState,
    DatabaseCheck,
    Finding,
    FindingKind,
    ParameterCheck,
    RepairResult,
)
from lambdas.shared.errors import DatabaseUnreachable, InvalidInput
from lambdas.shared.models import Target
from lambdas.shared.ownership import marker, user_marker

K = FindingKind

CHECK = CheckInput(db_instance_identifier="orders-prod", database="orders")
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TARGET = Target(
    instance_id="orders-prod",
    engine="postgres",
    engine_version="15.4",
    major_version=15,
    status="available",
    parameter_group="orders-prod-streamkap-cdc",
    parameter_group_family="postgres15",
    parameter_apply_status="in-sync",
    host="h",
    port=5432,
    database="orders",
    master_secret_arn="arn:aws:secretsmanager:us-east-1:1:secret:rds!db-1",
)


SLOT = "streamkap_pgoutput_slot"


def slot(**overrides) -> SlotInfo:
    fields = dict(plugin="pgoutput", slot_type="logical", database="orders", active=True, retained_bytes=100)
    return SlotInfo(**{**fields, **overrides})  # type: ignore[arg-type]


def slot_found(found: SlotInfo | None, recorded: bool = True, database: str = "orders") -> list[Finding]:
    return slot_findings(found, recorded=recorded, check=CHECK, database=database, now=NOW)


def server(major: int = 15, wal_level: str = "logical") -> ServerInfo:
    return ServerInfo(major * 10000 + 4, wal_level, "postgres", False, True, True, 10, 10, 1)


def kinds(findings: list[Finding]) -> list[str]:
    return [f.kind.value for f in findings]


def subjects(findings: list[Finding], kind: FindingKind) -> list[str]:
    return [f.subject for f in findings if f.kind is kind]


def test_each_kind_has_a_stable_name_and_its_metric_name() -> None:
    assert FindingKind.UNPUBLISHED_TABLE.metric_name == "UnpublishedTable"
    assert FindingKind.SLOT_WAL_STATUS.metric_name == "SlotWalStatus"
    assert len({k.metric_name for k in FindingKind}) == len(FindingKind) == 13


def test_a_misspelt_key_is_invalid_input_naming_the_close_one_and_dry_run_is_refused() -> None:
    with pytest.raises(InvalidInput, match="polcy: unknown key; did you mean policy?"):
        parse_input({"db_instance_identifier": "orders-prod", "polcy": "publish"})
    with pytest.raises(InvalidInput, match="dry_run is setup's"):
        parse_input({"db_instance_identifier": "orders-prod", "dry_run": True})
    assert parse_input({"db_instance_identifier": "orders-prod"}).policy == "report"


@pytest.mark.parametrize("taking_over", [{"adopt": ["publication"]}, {"adopt": ["slot"]}, {"rotate_password": True}])
def test_a_check_never_takes_an_object_over_nor_sets_a_password(taking_over) -> None:
    with pytest.raises(InvalidInput, match="adopt and rotate_password are setup's: a check takes nothing over"):
        parse_input({"db_instance_identifier": "orders-prod", "repair": True, **taking_over})


def test_the_retained_threshold_defaults_to_setups_slot_lag_alarm() -> None:
    assert CHECK.retained_threshold_bytes == 5 * 1024**3
    assert CHECK.model_copy(update={"slot_retained_gib": 0.5}).retained_threshold_bytes == 512 * 1024**2


# ---- the slot ---------------------------------------------------------------------------------------


def test_an_active_slot_within_bounds_is_no_finding() -> None:
    assert slot_found(slot()) == []


LOST_TAIL = (
    ". The changes since it was lost are gone for the connector: once the slot is recreated (repair: true) "
    "the connector needs a new snapshot"
)


@pytest.mark.parametrize(
    ("found", "recorded", "database", "seen"),
    [
        (None, False, "orders", None),
        (None, True, "orders", None),
        (slot(), False, "orders", "pgoutput on orders"),
        (slot(plugin="wal2json"), True, "orders", "wal2json on orders"),
        (slot(database="other"), True, "orders", "pgoutput on other"),
        (slot(), True, "sales", "pgoutput on orders"),
    ],
    ids=["absent", "absent-but-recorded", "not-recorded", "other-plugin", "other-database", "target-database"],
)
def test_a_slot_that_is_gone_or_not_ours_is_slot_missing_and_needs_a_snapshot(found, recorded, database, seen) -> None:
    """Each of the ownership conditions alone makes the slot not ours: it exists, the CDC user's marker
    records it, it is pgoutput, on the target's database. RepairTarget recreates only a slot not ours."""
    found_there = (
        f"replication slot {SLOT} does not exist (dropped, or not carried over by a failover, blue/green switchover, "
        "major version upgrade or restore)"
        if seen is None
        else f"a replication slot named {SLOT} exists but is not rds-cdc-setup's for user streamkap_user on "
        f"{database} ({seen})"
    )
    assert slot_found(found, recorded, database) == [
        Finding(kind=K.SLOT_MISSING, subject=SLOT, detail=found_there + LOST_TAIL, severity="critical", snapshot=True)
    ]


def test_an_inactive_slot_says_since_when_on_17_and_that_it_cannot_before() -> None:
    [on_17] = slot_found(slot(active=False, inactive_since="2025-06-01T09:30:00+00:00"))
    [before_17] = slot_found(slot(active=False))
    assert on_17 == Finding(
        kind=K.SLOT_INACTIVE,
        subject=SLOT,
        detail=f"nothing streams from replication slot {SLOT} since 2025-06-01T09:30:00+00:00 (2 h 30 min); it holds "
        "WAL back until the connector reads again",
    )
    assert before_17 == Finding(
        kind=K.SLOT_INACTIVE,
        subject=SLOT,
        detail=f"nothing streams from replication slot {SLOT} now (PostgreSQL before 17 does not record since when: "
        "the retained WAL shows how far behind); it holds WAL back until the connector reads again",
    )
    [hour] = slot_found(slot(active=False, inactive_since="2025-06-01T11:00:00+00:00"))
    assert "(1 h 0 min)" in hour.detail


def test_a_slot_inactive_since_after_now_by_the_steps_clock_says_zero_minutes_not_negative() -> None:
    [skewed] = slot_found(slot(active=False, inactive_since="2025-06-01T12:00:30+00:00"))
    assert "since 2025-06-01T12:00:30+00:00 (0 h 0 min);" in skewed.detail


def test_wal_status_lost_needs_a_snapshot_and_unreserved_names_its_safe_size() -> None:
    [lost] = slot_found(slot(wal_status="lost"))
    [unreserved] = slot_found(slot(wal_status="unreserved", safe_wal_size=-4096))
    assert lost == Finding(
        kind=K.SLOT_WAL_STATUS,
        subject=SLOT,
        detail=f"replication slot {SLOT} has wal_status lost: the WAL it needs was removed (it fell more than "
        "max_slot_wal_keep_size behind), no connector can stream from it again. Drop it "
        f"(SELECT pg_drop_replication_slot('{SLOT}')), then check with repair: true; the connector needs a new "
        "snapshot",
        severity="critical",
        snapshot=True,
    )
    assert unreserved == Finding(
        kind=K.SLOT_WAL_STATUS,
        subject=SLOT,
        detail=f"replication slot {SLOT} has wal_status unreserved: it holds more WAL than max_slot_wal_keep_size "
        "and loses it at the next checkpoint unless the connector catches up (safe_wal_size -4096 bytes)",
        severity="critical",
    )
    assert slot_found(slot(wal_status="extended")) == slot_found(slot(wal_status="reserved")) == []


def test_retained_wal_above_the_threshold_only() -> None:
    at = CHECK.retained_threshold_bytes
    assert slot_found(slot(retained_bytes=at)) == slot_found(slot(retained_bytes=None)) == []
    [above] = slot_found(slot(retained_bytes=at + 1, safe_wal_size=2 * 1024**3))
    [unbounded] = slot_found(slot(retained_bytes=3 * at))
    assert above == Finding(
        kind=K.SLOT_RETAINED_BYTES,
        subject=SLOT,
        detail=f"replication slot {SLOT} holds 5.0 GiB of WAL back, above 5.0 GiB (slot_retained_gib); "
        "2.0 GiB more before it is lost",
    )
    assert unbounded.detail == f"replication slot {SLOT} holds 15.0 GiB of WAL back, above 5.0 GiB (slot_retained_gib)"


def test_an_inactive_lost_slot_far_behind_is_each_finding_in_order() -> None:
    found = slot_found(slot(active=False, wal_status="lost", retained_bytes=6 * 1024**3))
    assert kinds(found) == ["slot_inactive", "slot_wal_status", "slot_retained_bytes"]


# ---- the server and its parameters ------------------------------------------------------------------


def test_wal_level_not_logical_is_logical_replication_off() -> None:
    [finding] = server_findings(server(wal_level="replica"), TARGET)
    assert finding == Finding(
        kind=K.LOGICAL_REPLICATION_OFF,
        subject="orders-prod",
        detail="the server runs with wal_level replica, not logical: no change is decoded and the connector cannot "
        "stream. Run setup again (it sets the parameter and reboots)",
        severity="critical",
    )
    aurora = TARGET.model_copy(update={"cluster_id": "orders-cluster"})
    assert subjects(server_findings(server(wal_level="replica"), aurora), K.LOGICAL_REPLICATION_OFF) == [
        "orders-cluster"
    ]
    assert server_findings(server(), TARGET) == []


def parameters(values: dict[str, str], status: str = "in-sync", plan: list[str] | None = None) -> list[Finding]:
    return parameter_findings(
        where="instance x", kind="parameter group", group="g", values=values, apply_status=status, plan=plan or []
    )


READY_VALUES = {"rds.logical_replication": "1", "wal_sender_timeout": "0"}


def test_parameter_findings_from_the_group_the_instance_and_setups_plan() -> None:
    assert parameters(READY_VALUES) == []
    assert parameters({}) == [
        Finding(
            kind=K.LOGICAL_REPLICATION_OFF,
            subject="g",
            detail="rds.logical_replication is 0 in parameter group g of instance x: at the next reboot wal_level "
            "stops being logical and the connector stops. Run setup again (it sets it back)",
            severity="critical",
        ),
        Finding(
            kind=K.WAL_SENDER_TIMEOUT,
            subject="g",
            detail="wal_sender_timeout is the engine default (60s) in parameter group g, not 0: a connector idle for "
            "that long is disconnected. Run setup again (it sets it to 0)",
        ),
    ]
    [sender] = parameters({**READY_VALUES, "wal_sender_timeout": "60000"})
    assert sender.kind is K.WAL_SENDER_TIMEOUT and sender.detail.startswith("wal_sender_timeout is 60000 in ")
    assert kinds(parameters({**READY_VALUES, "rds.logical_replication": "0"})) == ["logical_replication_off"]
    assert parameters(READY_VALUES, "pending-reboot") == [
        Finding(
            kind=K.PARAMETER_PENDING_REBOOT,
            subject="g",
            detail="instance x has parameter changes in parameter group g that take effect only at its next reboot "
            "(whoever made them): until then the server runs with the old values",
        )
    ]
    assert parameters(READY_VALUES, plan=["set a=1 in parameter group g", "refused: b"]) == [
        Finding(kind=K.PARAMETER_DRIFT, subject="g", detail="setup would now: set a=1 in parameter group g; refused: b")
    ]
    assert kinds(parameters({}, "pending-reboot", ["x"])) == [
        "logical_replication_off",
        "wal_sender_timeout",
        "parameter_pending_reboot",
        "parameter_drift",
    ]


# ---- the publication and the tables -----------------------------------------------------------------


def test_a_publication_not_ours_or_gone_needs_a_snapshot_and_ours_is_no_finding() -> None:
    tail = ". The connector cannot stream; once it is recreated (repair: true) the connector needs a new snapshot"

    def missing(detail: str) -> list[Finding]:
        return [
            Finding(
                kind=K.PUBLICATION_MISSING,
                subject="streamkap_pub",
                detail=detail + tail,
                severity="critical",
                snapshot=True,
            )
        ]

    ours = CatalogState(database="orders", publication_exists=True, publication_marked=True)
    assert publication_findings(ours, CHECK) == []
    gone = missing("publication streamkap_pub does not exist")
    assert publication_findings(CatalogState(database="orders"), CHECK) == gone
    assert publication_findings(CatalogState(database="orders", publication_marked=True), CHECK) == gone
    assert publication_findings(CatalogState(database="orders", publication_exists=True), CHECK) == missing(
        "a publication named streamkap_pub exists but is not rds-cdc-setup's (no marker): someone replaced it"
    )


def rel(
    oid: int, name: str, *, schema: str = "public", kind: str = "r", partition: bool = False, **flags: Any
) -> Relation:
    fields = {"has_primary_key": True, "replica_identity": "d", "selectable": True, **flags}
    return Relation(oid, schema, name, kind, partition, **fields)


# orders: fine; events: partitioned, its leaf without a key nor SELECT; logs: replica identity nothing, no SELECT;
# the signal table is ours (never a captured table), the heartbeat table ours too but not published.
TABLES = CatalogState(
    database="orders",
    relations=(
        rel(1, "orders"),
        rel(2, "events", kind="p"),
        rel(3, "events_2026", partition=True, has_primary_key=False, selectable=False),
        rel(4, "logs", has_primary_key=False, replica_identity="n", selectable=False),
        rel(5, "streamkap_signal", schema="streamkap"),
    ),
    partition_leaves={2: (3,)},
    own_tables={"streamkap_signal": frozenset({"SELECT"}), "streamkap_heartbeat": frozenset({"SELECT"})},
    publication_exists=True,
    publication_marked=True,
    publication_tables=frozenset({"public.orders", "streamkap.streamkap_signal"}),
)
TABLE_CHECK = CHECK.model_copy(update={"heartbeat": "table", "schemas": ["public", "streamkap"]})


def names(relations: list[Relation]) -> list[str]:
    return [r.qualified_name for r in relations]


def test_captured_tables_are_setups_published_ones_without_ours_and_listed_tables_that_are_gone() -> None:
    assert names(captured_tables(TABLES, TABLE_CHECK, server())) == ["public.orders", "public.events", "public.logs"]
    assert names(captured_tables(TABLES, TABLE_CHECK, server(12))) == [
        "public.orders",
        "public.events_2026",
        "public.logs",
    ]
    listed = TABLE_CHECK.model_copy(update={"tables": ["public.logs", "public.gone", "public.orders"]})
    assert names(captured_tables(TABLES, listed, server())) == ["public.logs", "public.orders"]
    assert captured_tables(TABLES, TABLE_CHECK.model_copy(update={"tables": ["public.gone"]}), server()) == []


def test_table_findings_name_each_unpublished_unselectable_and_identity_less_table() -> None:
    found = table_findings(TABLES, TABLE_CHECK, server())
    assert kinds(found) == ["unpublished_table"] * 3 + ["not_selectable"] * 2 + ["replica_identity"] * 2
    assert subjects(found, K.UNPUBLISHED_TABLE) == ["public.events", "public.logs", "streamkap.streamkap_heartbeat"]
    assert subjects(found, K.NOT_SELECTABLE) == ["public.logs", "public.events_2026"]
    assert subjects(found, K.REPLICA_IDENTITY) == ["public.events_2026", "public.logs"]
    assert found[0] == Finding(
        kind=K.UNPUBLISHED_TABLE,
        subject="public.events",
        detail="public.events is captured (schemas public, streamkap) but not in publication streamkap_pub: the "
        "connector receives none of its changes. policy publish adds it",
    )
    assert found[3] == Finding(
        kind=K.NOT_SELECTABLE,
        subject="public.logs",
        detail="role streamkap_role cannot SELECT public.logs: the connector's snapshot of it fails. policy publish "
        "grants it, as setup does",
    )
    assert found[5] == Finding(
        kind=K.REPLICA_IDENTITY,
        subject="public.events_2026",
        detail="public.events_2026 has no primary key or replica identity: UPDATE and DELETE on it fail once it is "
        "published. Add a primary key, or set REPLICA IDENTITY FULL (replica_identity full lets policy publish "
        "do it)",
        severity="critical",
    )


def test_table_findings_follow_the_heartbeat_the_version_and_replica_identity_ignore() -> None:
    message = table_findings(TABLES, TABLE_CHECK.model_copy(update={"heartbeat": "message"}), server())
    assert subjects(message, K.UNPUBLISHED_TABLE) == ["public.events", "public.logs"]
    no_heartbeat_table = CatalogState(**{**TABLES.__dict__, "own_tables": {"streamkap_signal": frozenset()}})
    assert subjects(table_findings(no_heartbeat_table, TABLE_CHECK, server()), K.UNPUBLISHED_TABLE) == [
        "public.events",
        "public.logs",
    ]
    pg12 = table_findings(TABLES, TABLE_CHECK, server(12))
    assert subjects(pg12, K.UNPUBLISHED_TABLE)[:2] == ["public.events_2026", "public.logs"]
    assert subjects(pg12, K.NOT_SELECTABLE) == ["public.events_2026", "public.logs"]
    ignore = table_findings(TABLES, TABLE_CHECK.model_copy(update={"replica_identity": "ignore"}), server())
    assert subjects(ignore, K.REPLICA_IDENTITY) == []
    full = table_findings(TABLES, TABLE_CHECK.model_copy(update={"replica_identity": "full"}), server())
    assert subjects(full, K.REPLICA_IDENTITY) == ["public.events_2026", "public.logs"]


def test_unpublished_tables_only_of_a_publication_of_ours_and_by_schema_for_for_tables_in_schema() -> None:
    def unpublished(**state: Any) -> list[Finding]:
        found = table_findings(CatalogState(**{**TABLES.__dict__, **state}), TABLE_CHECK, server())
        return [f for f in found if f.kind is K.UNPUBLISHED_TABLE]

    assert unpublished(publication_marked=False) == unpublished(publication_exists=False) == []
    assert unpublished(publication_all_tables=True) == []
    assert unpublished(publication_schemas=frozenset({"public"})) == [
        Finding(
            kind=K.UNPUBLISHED_TABLE,
            subject="streamkap",
            detail="schema streamkap is not in publication streamkap_pub (FOR TABLES IN SCHEMA): none of its tables' "
            "changes are published. policy publish adds it",
        )
    ]
    assert unpublished(publication_schemas=frozenset({"public", "streamkap"})) == []
    everything = TABLES.publication_tables | {"public.events", "public.logs", "streamkap.streamkap_heartbeat"}
    assert unpublished(publication_tables=everything) == []


# ---- CheckDatabase's decisions ----------------------------------------------------------------------

RECORDED = user_marker({("orders", SLOT)})
OURS = CatalogState(database="orders", publication_exists=True, publication_marked=True)
LOGIN = Finding(kind=K.LOGIN_FAILED, subject="streamkap_user", detail="x", severity="critical")


def decide(
    state: CatalogState = OURS,
    found: SlotInfo | None = None,
    comment: str | None = RECORDED,
    *,
    major: int = 15,
    login: list[Finding] | None = None,
    check: CheckInput = CHECK,
) -> DatabaseCheck:
    return database_check(
        check,
        TARGET,
        server(major),
        state,
        slot=slot() if found is None else found,
        user_comment=comment,
        login=login or [],
        now=NOW,
    )


def test_a_clean_target_is_ours_with_no_findings_and_the_auto_heartbeat_resolved() -> None:
    assert decide() == DatabaseCheck(
        findings=[],
        server_version_num=150004,
        publication_ours=True,
        slot_ours=True,
        unpublished_tables=0,
        heartbeat="message",
    )
    assert decide(major=13).heartbeat == "table"
    assert decide(check=CHECK.model_copy(update={"heartbeat": "off"})).heartbeat == "off"


@pytest.mark.parametrize(
    "comment",
    [user_marker(), user_marker({("sales", SLOT)}), user_marker({("orders", "other")}), marker("x"), "", None],
    ids=["records-none", "other-database", "other-slot", "other-marker", "empty", "no-user"],
)
def test_a_slot_the_cdc_users_marker_does_not_record_is_not_ours(comment) -> None:
    decided = decide(comment=comment)
    assert not decided.slot_ours and decided.publication_ours
    assert kinds(decided.findings) == ["slot_missing"]


def test_a_slot_of_ours_with_findings_stays_ours_and_a_foreign_one_is_not() -> None:
    behind = decide(found=slot(active=False, wal_status="lost"))
    assert behind.slot_ours and kinds(behind.findings) == ["slot_inactive", "slot_wal_status"]
    assert not decide(found=slot(plugin="wal2json")).slot_ours
    gone = database_check(CHECK, TARGET, server(), OURS, slot=None, user_comment=RECORDED, login=[], now=NOW)
    assert not gone.slot_ours and kinds(gone.findings) == ["slot_missing"]


@pytest.mark.parametrize(
    ("exists", "marked"), [(False, False), (True, False), (False, True)], ids=["gone", "unmarked", "marker-only"]
)
def test_a_publication_is_ours_only_existing_and_marked(exists, marked) -> None:
    decided = decide(CatalogState(database="orders", publication_exists=exists, publication_marked=marked))
    assert not decided.publication_ours and decided.slot_ours
    assert kinds(decided.findings) == ["publication_missing"]


def test_the_findings_come_server_publication_tables_slot_login_and_unpublished_counts_tables_only() -> None:
    state = CatalogState(**{**TABLES.__dict__, "own_tables_marked": frozenset({"streamkap_heartbeat"})})
    decided = database_check(
        TABLE_CHECK.model_copy(update={"heartbeat": "auto"}),
        TARGET,
        server(wal_level="replica"),
        state,
        slot=slot(active=False, inactive_since="2025-06-01T09:30:00+00:00"),
        user_comment=RECORDED,
        login=[LOGIN],
        now=NOW,
    )
    assert kinds(decided.findings) == (
        ["logical_replication_off"]
        + ["unpublished_table"] * 3
        + ["not_selectable"] * 2
        + ["replica_identity"] * 2
        + ["slot_inactive", "login_failed"]
    )
    # the heartbeat table is ours, so "auto" is the table and its absence from the publication is a finding
    assert decided.unpublished_tables == 3 and decided.heartbeat == "table"
    assert decided.findings[-1] == LOGIN and "(2 h 30 min)" in decided.findings[-2].detail


# ---- the CDC user's login ---------------------------------------------------------------------------


class FakeSecrets:
    def __init__(self, arn: str | None) -> None:
        self.arn = arn
        self.asked: list[tuple[str, str | None]] = []

    def inspect_user_secret(self, name: str, *, kms_key_arn: str | None) -> SecretState:
        self.asked.append((name, kms_key_arn))
        return SecretState(arn=self.arn)


class FakeLogin:
    """as_user: a connection with the secret of that ARN, refused with `refusal` when given."""

    def __init__(self, refusal: Exception | None = None) -> None:
        self.refusal = refusal
        self.opened: list[str] = []
        self.ran: list[str] = []

    def __call__(self, arn: str) -> FakeLogin:
        self.opened.append(arn)
        if self.refusal is not None:
            raise self.refusal
        return self

    def __enter__(self) -> FakeLogin:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def value(self, query: str) -> object:
        self.ran.append(query)
        return 1


SECRET_ARN = "arn:aws:secretsmanager:us-east-1:1:secret:rds-cdc-setup/orders-prod/streamkap_user-AbCdEf"


def login(secrets: FakeSecrets, as_user: FakeLogin) -> list[Finding]:
    return login_findings(secrets, CHECK, TARGET, as_user)  # type: ignore[arg-type]


def test_a_login_with_the_secret_is_no_finding(monkeypatch) -> None:
    monkeypatch.setenv("SECRETS_KMS_KEY_ARN", "arn:aws:kms:us-east-1:1:key/k")
    secrets, as_user = FakeSecrets(SECRET_ARN), FakeLogin()
    assert login(secrets, as_user) == []
    assert secrets.asked == [("rds-cdc-setup/orders-prod/streamkap_user", "arn:aws:kms:us-east-1:1:key/k")]
    assert (as_user.opened, as_user.ran) == ([SECRET_ARN], ["SELECT 1"])


@pytest.mark.parametrize(
    "refusal",
    [DatabaseUnreachable("password authentication failed for user streamkap_user"), InvalidInput("no password key")],
    ids=["refused", "unusable-secret"],
)
def test_a_refused_login_or_unusable_secret_is_login_failed_naming_why(refusal) -> None:
    assert login(FakeSecrets(SECRET_ARN), FakeLogin(refusal)) == [
        Finding(
            kind=K.LOGIN_FAILED,
            subject="streamkap_user",
            detail=f"the CDC user cannot log in with the password in its secret: {refusal}",
            severity="critical",
        )
    ]


def test_no_secret_is_login_failed_without_a_login_and_other_errors_are_not_findings() -> None:
    as_user = FakeLogin()
    assert login(FakeSecrets(None), as_user) == [
        Finding(
            kind=K.LOGIN_FAILED,
            subject="streamkap_user",
            detail="the CDC user cannot log in with the password in its secret: there is no secret "
            "rds-cdc-setup/orders-prod/streamkap_user",
            severity="critical",
        )
    ]
    assert as_user.opened == []
    with pytest.raises(RuntimeError, match="boom"):
        login(FakeSecrets(SECRET_ARN), FakeLogin(RuntimeError("boom")))


# ---- RepairTarget -----------------------------------------------------------------------------------


@pytest.fixture
def ran(monkeypatch) -> list[tuple[str, tuple[Any, ...]]]:
    """Setup's ConfigureDatabase and CreateSlot code, recorded instead of run: (which, its arguments)."""
    calls: list[tuple[str, tuple[Any, ...]]] = []

    def configure(*args: Any) -> SimpleNamespace:
        calls.append(("configure", args))
        return SimpleNamespace(changes=["add table public.logs to publication streamkap_pub"])

    def create(*args: Any) -> SimpleNamespace:
        calls.append(("slot", args))
        return SimpleNamespace(changes=[f"create replication slot {SLOT}"])

    monkeypatch.setattr(check_module, "configure_database", configure)
    monkeypatch.setattr(check_module, "create_slot", create)
    return calls


DB, SECRETS = object(), object()


def reconnect() -> Any:
    raise AssertionError("not called by RepairTarget itself")


def repair(
    *, policy: str = "report", repair: bool = False, publication: bool = True, slot_ours: bool = True
) -> RepairResult:
    check = CHECK.model_copy(update={"policy": policy, "repair": repair})
    found = DatabaseCheck(
        findings=[],
        server_version_num=150004,
        publication_ours=publication,
        slot_ours=slot_ours,
        unpublished_tables=1,
        heartbeat="message",
    )
    return repair_target(DB, SECRETS, check, TARGET, found, reconnect)  # type: ignore[arg-type]


CONFIGURED = "add table public.logs to publication streamkap_pub"
CREATED = f"create replication slot {SLOT}"


@pytest.mark.parametrize(
    ("options", "runs", "changes", "repaired"),
    [
        (dict(), [], [], []),
        (dict(repair=True), [], [], []),
        (dict(publication=False, slot_ours=False), [], [], []),
        (dict(policy="publish", publication=False), [], [], []),
        (dict(policy="publish"), ["configure"], [CONFIGURED], []),
        (dict(policy="publish", repair=True), ["configure"], [CONFIGURED], []),
        (dict(repair=True, publication=False), ["configure"], [CONFIGURED], ["publication"]),
        (dict(repair=True, slot_ours=False), ["slot"], [CREATED], ["slot"]),
        (dict(policy="publish", slot_ours=False), ["configure"], [CONFIGURED], []),
        (dict(policy="publish", repair=True, slot_ours=False), ["configure", "slot"], [CONFIGURED, CREATED], ["slot"]),
        (
            dict(repair=True, publication=False, slot_ours=False),
            ["configure", "slot"],
            [CONFIGURED, CREATED],
            ["publication", "slot"],
        ),
    ],
    ids=[
        "report",
        "repair-all-ours",
        "report-all-lost",
        "publish-someone-elses",
        "publish",
        "publish-repair-all-ours",
        "repair-publication",
        "repair-slot",
        "publish-slot-lost-no-repair",
        "publish-repair-slot",
        "repair-both",
    ],
)
def test_repair_target_changes_only_from_the_ownership_decisions_and_the_policy(ran, options, runs, changes, repaired):
    """policy publish runs ConfigureDatabase's code on a publication of ours only; repair runs it where the
    publication is not ours, and CreateSlot's where the slot is not; report without repair changes nothing."""
    assert repair(**options) == RepairResult(changes=changes, repaired=repaired)
    assert [which for which, _ in ran] == runs


def test_repair_target_hands_setups_code_the_ports_and_the_resolved_heartbeat(ran) -> None:
    repair(repair=True, publication=False, slot_ours=False)
    [(_, configure_args), (_, slot_args)] = ran
    db, secrets, check, target = configure_args
    assert (db, secrets, target) == (DB, SECRETS, TARGET) and check.heartbeat == "message" and check.repair
    db, check, target, again = slot_args
    assert (db, target, again) == (DB, TARGET, reconnect) and check.heartbeat == "message"
    ran.clear()
    found = DatabaseCheck(
        findings=[], server_version_num=150004, publication_ours=False, slot_ours=True, unpublished_tables=0
    )
    explicit = CHECK.model_copy(update={"repair": True, "heartbeat": "off"})
    repair_target(DB, SECRETS, explicit, TARGET, found, reconnect)  # type: ignore[arg-type]
    assert ran[0][1][2].heartbeat == "off"


# ---- ReportCheck ------------------------------------------------------------------------------------


def state(
    findings: list[Finding], repair: RepairResult | None = None, parameters: list[Finding] | None = None
) -> CheckState:
    database = DatabaseCheck(
        findings=findings, server_version_num=150004, publication_ours=True, slot_ours=True, unpublished_tables=0
    )
    checked = None if parameters is None else ParameterCheck(findings=parameters)
    return CheckState(input=CHECK, target=TARGET, parameters=checked, database=database, repair=repair)


def test_the_report_counts_every_kind_and_says_loudly_when_a_snapshot_is_needed() -> None:
    clean = report_check(state([]))
    assert (clean.status, clean.snapshot_needed, clean.message) == (
        "Clean",
        False,
        "orders-prod: no findings; nothing was changed.",
    )
    assert set(clean.counts) == {k.value for k in FindingKind} and not any(clean.counts.values())
    assert report_check(state([], parameters=[])).status == "Clean"

    lost = slot_found(None, recorded=False)
    reported = report_check(state(lost))
    assert reported.counts["slot_missing"] == 1 and reported.snapshot_needed
    assert reported.message == (
        "orders-prod: 1 finding(s): slot_missing 1. SNAPSHOT NEEDED: streamkap_pgoutput_slot was lost; the connector "
        "cannot resume where it stopped and must take a new snapshot. repair: true recreates what setup made, as "
        "setup would."
    )

    repaired = report_check(state(lost, RepairResult(changes=["created replication slot s"], repaired=["slot"])))
    assert repaired.findings == reported.findings and repaired.repaired == ["slot"]
    assert repaired.changes == ["created replication slot s"] and repaired.message.endswith("(recreated: slot).")


def test_the_report_counts_the_parameters_findings_and_names_every_lost_object() -> None:
    gone = publication_findings(CatalogState(database="orders"), CHECK)
    lost = slot_found(None, recorded=False)
    drift = parameters({**READY_VALUES, "wal_sender_timeout": "1"})
    both = RepairResult(changes=["a", "b"], repaired=["publication", "slot"])
    reported = report_check(state(lost + gone + gone, both, parameters=drift))
    assert reported.status == "Findings" and reported.findings == drift + lost + gone + gone
    assert (reported.counts["wal_sender_timeout"], reported.counts["publication_missing"]) == (1, 2)
    assert reported.message == (
        "orders-prod: 4 finding(s): publication_missing 2, slot_missing 1, wal_sender_timeout 1. SNAPSHOT NEEDED: "
        "streamkap_pgoutput_slot, streamkap_pub were lost; the connector cannot resume where it stopped and must "
        "take a new snapshot (recreated: publication, slot)."
    )
    only_drift = report_check(state([], parameters=drift))
    assert (only_drift.status, only_drift.snapshot_needed) == ("Findings", False)
    assert only_drift.message == "orders-prod: 1 finding(s): wal_sender_timeout 1."
