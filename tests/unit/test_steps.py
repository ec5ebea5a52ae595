"""Parameter group, reboot loop, report and protocol choices, over fake ports."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from lambdas.dal.rds import InstanceInfo
from lambdas.dal.sql import ServerInfo
from lambdas.logic.database_apply import scram_verifier
from lambdas.logic.parameter_group import ensure_parameter_group, plan_parameter_group
from lambdas.logic.reboot import check_reboot, max_polls
from lambdas.logic.report import inline_tables_csv, report, tables_csv
from lambdas.logic.verify import writes_to
from lambdas.shared.errors import RebootTimeout
from lambdas.shared.models import TABLES_CSV_INLINE_LIMIT_BYTES, SetupInput, WorkflowState


def instance(group: str = "default.postgres15", status: str = "available", apply: str = "in-sync") -> InstanceInfo:
    return InstanceInfo(
        "orders-prod", "postgres", "15.4", status, group, apply, "h", 5432, "orders", "master", "arn:secret", None
    )


class FakeRds:
    """Records (call, ...) tuples; calls on Aurora cluster parameter groups are named "<call>-cluster".
    `groups`: name -> user-set values; `owned`: the groups with the owner tag; `holders`: name ->
    what else ("instance x" / "cluster y") the group is attached to."""

    def __init__(
        self,
        groups: dict[str, dict[str, str]] | None = None,
        described: InstanceInfo | None = None,
        *,
        owned: set[str] | None = None,
        holders: dict[str, list[str]] | None = None,
    ):
        self.groups = groups or {}
        self.owned = set(owned or ())
        self.holders = holders or {}
        self.calls: list[tuple] = []
        self.described = described or instance()

    def parameter_group_exists(self, group, *, cluster=False):
        return group in self.groups

    def parameter_group_tags(self, group, *, cluster=False):
        if group not in self.groups:
            return None
        return {"created-by": "rds-cdc-setup"} if group in self.owned else {"team": "orders"}

    def parameter_group_holders(self, group, *, cluster=False):
        return list(self.holders.get(group, []))

    def user_parameters(self, group, names, *, cluster=False):
        return {k: v for k, v in self.groups[group].items() if k in names}

    def create_parameter_group(self, *, group, family, description, cluster=False):
        self.calls.append(("create-cluster" if cluster else "create", group, family))
        self.groups[group] = {}
        self.owned.add(group)

    def copy_parameter_group(self, *, source, group, description, cluster=False):
        self.calls.append(("copy-cluster" if cluster else "copy", source, group))
        self.groups[group] = dict(self.groups[source])
        self.owned.add(group)

    def tag_parameter_group(self, group, *, cluster=False):
        self.calls.append(("tag-cluster" if cluster else "tag", group))
        self.owned.add(group)

    def set_parameters(self, group, values, *, cluster=False):
        self.calls.append(("set-cluster" if cluster else "set", group, dict(values)))
        self.groups[group].update({k: v for k, (v, _) in values.items()})

    def attach_parameter_group(self, instance_id, group, *, cluster_id=None):
        self.calls.append(("attach-cluster", cluster_id, group) if cluster_id else ("attach", instance_id, group))

    def describe_instance(self, instance_id, cluster_id=None):
        return self.described

    def reboot(self, instance_id):
        self.calls.append(("reboot", instance_id))


def test_default_group_is_replaced_by_a_custom_group_of_the_same_family():
    rds = FakeRds()
    changes, reboot = ensure_parameter_group(rds, instance(), "postgres15")
    assert rds.calls == [
        ("create", "orders-prod-streamkap-cdc", "postgres15"),
        (
            "set",
            "orders-prod-streamkap-cdc",
            {"rds.logical_replication": ("1", "pending-reboot"), "wal_sender_timeout": ("0", "immediate")},
        ),
        ("attach", "orders-prod", "orders-prod-streamkap-cdc"),
    ]
    assert reboot and len(changes) == 4


def test_a_crash_after_creating_the_group_resumes_without_recreating_it():
    rds = FakeRds(groups={"orders-prod-streamkap-cdc": {}}, owned={"orders-prod-streamkap-cdc"})
    ensure_parameter_group(rds, instance(), "postgres15")
    assert [c[0] for c in rds.calls] == ["set", "attach"]


def test_a_custom_group_already_set_needs_no_change_and_no_reboot():
    rds = FakeRds(groups={"team": {"rds.logical_replication": "1", "wal_sender_timeout": "0"}})
    plan = plan_parameter_group(rds, instance("team"))
    assert plan.actions("orders-prod", "postgres15") == [] and not plan.needs_reboot
    changes, reboot = ensure_parameter_group(rds, instance("team"), "postgres15")
    assert (changes, reboot, rds.calls) == ([], False, [])


def test_only_a_dynamic_change_needs_no_reboot():
    rds = FakeRds(groups={"team": {"rds.logical_replication": "1"}}, owned={"team"})
    changes, reboot = ensure_parameter_group(rds, instance("team"), "postgres15")
    assert changes == ["set wal_sender_timeout=0 in parameter group team"] and not reboot


def test_reboot_check_polls_until_ready_then_times_out_by_count():
    setup = SetupInput(db_instance_identifier="orders-prod", poll_seconds=30, max_wait_minutes=2)
    assert max_polls(setup) == 4
    rds = FakeRds(described=instance(status="rebooting"))
    status = check_reboot(rds, setup, "orders-prod", 0, read_wal_level=lambda: "logical")
    assert not status.ready and status.attempt == 1
    with pytest.raises(RebootTimeout, match="rebooting"):
        check_reboot(rds, setup, "orders-prod", 3, read_wal_level=lambda: "logical")


def test_reboot_check_is_ready_only_when_wal_level_is_logical():
    setup = SetupInput(db_instance_identifier="orders-prod")
    rds = FakeRds()
    assert check_reboot(rds, setup, "orders-prod", 0, read_wal_level=lambda: "logical").ready
    assert not check_reboot(rds, setup, "orders-prod", 0, read_wal_level=lambda: "replica").ready


def test_reboot_check_reissues_a_reboot_still_pending():
    rds = FakeRds(described=instance(apply="pending-reboot"))
    check_reboot(rds, SetupInput(db_instance_identifier="orders-prod"), "orders-prod", 0, lambda: "replica")
    assert rds.calls == [("reboot", "orders-prod")]


@pytest.mark.parametrize(("major", "proto"), [(10, 1), (13, 1), (14, 2), (15, 3), (16, 4), (17, 4)])
def test_pgoutput_protocol_follows_the_server_version(major, proto):
    info = ServerInfo(major * 10000, "logical", "m", True, False, False, 10, 10, 0)
    assert info.pgoutput_proto_version == proto


def test_tables_csv_is_one_name_per_row_without_header():
    assert tables_csv(["public.orders", "inventory.stock"]) == "public.orders\ninventory.stock\n"
    assert tables_csv(["odd.na,me"]) == '"odd.na,me"\n'


def test_a_tables_csv_beyond_its_budget_is_left_out_of_the_state():
    names = [f"public.t{i:06}" for i in range(TABLES_CSV_INLINE_LIMIT_BYTES // 15 + 1)]  # 15 bytes a row
    assert inline_tables_csv(names[:100]) == tables_csv(names[:100])
    assert len(tables_csv(names).encode()) > TABLES_CSV_INLINE_LIMIT_BYTES
    assert inline_tables_csv(names) is None


def test_scram_verifier_is_what_postgresql_checks_a_login_against():
    verifier = scram_verifier("correct horse")
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key, _server_key = keys.split(":")
    salted = hashlib.pbkdf2_hmac("sha256", b"correct horse", base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    assert method == "SCRAM-SHA-256" and base64.b64decode(stored_key) == hashlib.sha256(client_key).digest()
    assert "correct horse" not in verifier


def test_heartbeat_is_found_by_relation_oid_in_insert_or_update_messages():
    oid = (16384).to_bytes(4, "big")
    assert writes_to([b"B...", b"I" + oid + b"N...", b"C..."], 16384)
    assert writes_to([b"U" + oid + b"N..."], 16384)
    assert not writes_to([b"I" + (16385).to_bytes(4, "big") + b"N"], 16384)


def test_a_message_heartbeat_is_found_by_its_prefix_and_content_after_the_header():
    from lambdas.dal.sql import message_body
    from lambdas.logic.verify import carries_message

    body = message_body("streamkap_heartbeat", "rds-cdc-setup verify 42")
    header = b"M\x01" + (0x16B0000).to_bytes(8, "big")
    assert carries_message([b"B...", header + body, b"C..."], body)
    assert not carries_message([header + message_body("streamkap_heartbeat", "rds-cdc-setup verify 43")], body)
    assert not carries_message([header + message_body("other_prefix", "rds-cdc-setup verify 42")], body)
    assert not carries_message([b"I" + header[1:] + body], body)  # only a message ('M') counts
    assert body == b"streamkap_heartbeat\0" + (23).to_bytes(4, "big") + b"rds-cdc-setup verify 42"


TARGET = {
    **dict.fromkeys(("engine_version", "status", "parameter_group", "parameter_apply_status"), "x"),
    **{"instance_id": "orders-prod", "engine": "postgres", "major_version": 15, "parameter_group_family": "x"},
    **{"host": "h", "port": 5432, "database": "orders", "master_secret_arn": "arn:master"},
}
PREFLIGHT = {"server_version_num": 150004, "wal_level": "replica", "rds_roles": True, "plan": ["a", "b"]}


def test_report_on_dry_run_returns_the_plan():
    state = WorkflowState.model_validate(
        {"input": {"db_instance_identifier": "orders-prod", "dry_run": True}, "target": TARGET, "preflight": PREFLIGHT}
    )
    output = report(state)
    assert output.status == "DryRun" and output.plan == ["a", "b"] and output.connector is None


def test_report_without_an_inline_csv_says_how_many_tables_and_how_to_export_them():
    state = WorkflowState.model_validate(
        {
            "input": {"db_instance_identifier": "orders-prod", "publication_name": "o'pub"},
            "target": TARGET,
            "preflight": PREFLIGHT,
            "configure": {"changes": [], "secret_arn": "arn:user", "user_tables": 9000, "published_tables": 9002},
            "verification": {"wal_level": "logical", "published_tables": 9002, "peek_ok": True, "peeked_changes": 1},
        }
    )
    output = report(state)
    assert (output.status, output.tables_csv, output.tables_count) == ("Ready", None, 9000)
    assert "9000 tables" in output.message and "pubname = 'o''pub'" in output.message


def test_report_before_the_reboot_names_the_instance_and_a_configured_database_must_be_verified():
    pending = {
        "input": {"db_instance_identifier": "orders-prod", "reboot": "never"},
        "target": TARGET,
        "preflight": PREFLIGHT,
        "parameter_group": {"parameter_group": "orders-prod-streamkap-cdc", "changes": ["c"], "reboot_required": True},
    }
    output = report(WorkflowState.model_validate(pending))
    assert (output.status, output.changes) == (
        "RebootPending",
        ["c"],
    ) and "Reboot instance orders-prod" in output.message
    configured = {"changes": [], "secret_arn": "arn:user", "user_tables": 1, "published_tables": 3}
    with pytest.raises(ValueError, match="configured database without its verification"):
        report(WorkflowState.model_validate({**pending, "configure": configured}))


def writer(group: str = "default.aurora-postgresql15", apply: str = "in-sync") -> InstanceInfo:
    """An Aurora cluster seen through its writer, as Rds.describe_cluster returns it."""
    return InstanceInfo(
        "orders-aurora-1", "aurora-postgresql", "15.4", "available", group, apply, "cluster-endpoint", 5432,
        "orders", "master", "arn:secret", None, cluster_id="orders-aurora",
    )  # fmt: skip


def test_an_aurora_default_cluster_group_is_replaced_by_a_custom_cluster_group_attached_to_the_cluster():
    rds = FakeRds()
    changes, reboot = ensure_parameter_group(rds, writer(), "aurora-postgresql15")
    required = {"rds.logical_replication": ("1", "pending-reboot"), "wal_sender_timeout": ("0", "immediate")}
    assert rds.calls == [
        ("create-cluster", "orders-aurora-streamkap-cdc", "aurora-postgresql15"),
        ("set-cluster", "orders-aurora-streamkap-cdc", required),
        ("attach-cluster", "orders-aurora", "orders-aurora-streamkap-cdc"),
    ]
    assert reboot
    assert changes[-1] == "attach cluster parameter group orders-aurora-streamkap-cdc to cluster orders-aurora"


def test_the_reboot_of_an_aurora_cluster_reboots_its_writer_until_the_cluster_group_is_in_sync():
    setup = SetupInput(db_cluster_identifier="orders-aurora", poll_seconds=30, max_wait_minutes=60)
    rds = FakeRds(described=writer(group="orders-aurora-streamkap-cdc", apply="pending-reboot"))
    status = check_reboot(rds, setup, "orders-aurora-1", 0, lambda: "replica", cluster_id="orders-aurora")
    assert not status.ready and rds.calls == [("reboot", "orders-aurora-1")]
    rds.described = writer(group="orders-aurora-streamkap-cdc")
    assert check_reboot(rds, setup, "orders-aurora-1", 1, lambda: "logical", cluster_id="orders-aurora").ready


def test_a_cluster_with_its_writer_is_read_from_the_rds_api_shape():
    cluster = {
        "DBClusterIdentifier": "orders-aurora",
        "Engine": "aurora-postgresql",
        "EngineVersion": "15.4",
        "Status": "available",
        "DBClusterParameterGroup": "default.aurora-postgresql15",
        "Endpoint": "orders-aurora.cluster-x.us-east-1.rds.amazonaws.com",
        "Port": 5432,
        "DatabaseName": "orders",
        "MasterUsername": "postgres",
        "MasterUserSecret": {"SecretArn": "arn:cluster-secret"},
        "DBClusterMembers": [
            {"DBInstanceIdentifier": "reader-1", "IsClusterWriter": False, "DBClusterParameterGroupStatus": "in-sync"},
            {
                "DBInstanceIdentifier": "writer-1",
                "IsClusterWriter": True,
                "DBClusterParameterGroupStatus": "pending-reboot",
            },
        ],
    }
    info = InstanceInfo.from_cluster(cluster, {"DBInstanceStatus": "rebooting"})
    assert (info.instance_id, info.cluster_id, info.status) == ("writer-1", "orders-aurora", "rebooting")
    assert (info.parameter_group, info.parameter_apply_status) == ("default.aurora-postgresql15", "pending-reboot")
    assert (info.host, info.master_secret_arn) == (cluster["Endpoint"], "arn:cluster-secret")
    assert InstanceInfo.from_cluster({**cluster, "Status": "modifying"}, {"DBInstanceStatus": "available"}).status == (
        "modifying"
    )


def test_a_reboot_still_pending_is_reissued_once_per_run_then_waited_for_with_the_reason():
    setup = SetupInput(db_instance_identifier="orders-prod", poll_seconds=30, max_wait_minutes=60)
    rds = FakeRds(described=instance(apply="pending-reboot"))
    first = check_reboot(rds, setup, "orders-prod", 0, lambda: "replica", rebooted=True, previous_reboots=0)
    assert rds.calls == [("reboot", "orders-prod")] and first.reboots == 1 and first.waiting_because is None
    second = check_reboot(rds, setup, "orders-prod", 1, lambda: "replica", rebooted=True, previous_reboots=1)
    assert rds.calls == [("reboot", "orders-prod")] and second.reboots == 1
    assert "not rebooting it again" in second.waiting_because and "2 reboots in this run" in second.waiting_because


def test_when_reboot_instance_deferred_the_check_issues_the_reboot_and_one_extra():
    setup = SetupInput(db_instance_identifier="orders-prod")
    rds = FakeRds(described=instance(apply="pending-reboot"))
    reboots = 0
    for attempt in range(4):
        status = check_reboot(rds, setup, "orders-prod", attempt, lambda: "replica", rebooted=False,
                              previous_reboots=reboots)  # fmt: skip
        reboots = status.reboots
    assert rds.calls == [("reboot", "orders-prod")] * 2 and reboots == 2


def test_the_reboot_timeout_says_why_it_stopped_rebooting():
    setup = SetupInput(db_instance_identifier="orders-prod", poll_seconds=30, max_wait_minutes=1)
    rds = FakeRds(described=instance(apply="pending-reboot"))
    with pytest.raises(RebootTimeout, match="at most one extra reboot per run"):
        check_reboot(rds, setup, "orders-prod", 1, lambda: "replica", rebooted=True, previous_reboots=1)
    assert rds.calls == []
