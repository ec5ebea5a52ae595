"""EventBridge starts and the alarms step, through the real ASL: an untagged instance ends
`Skipped`, a tagged one is set up with its tagged settings, the plain input is unchanged.
Aurora: a tagged cluster is set up through the cluster, a new one once it has a writer, an
untagged one and a cluster's member instance end `Skipped`. A setting tag outside the allow-list
(another instance or cluster, the master user, a typo) fails in ReadTriggerTags and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.postgres_server import LocalPostgres
from local.rds_emulator import EmulatedInstance, RdsEmulator
from local.workflow_runner import Execution, LocalWorkflow
from tests.integration.conftest import SAMPLE_SCHEMA, run_script
from tests.snapshots import catalog, everything
from tests.workflow.conftest import INSTANCE, Stack, make_stack

pytestmark = pytest.mark.workflow

TRIGGER_STATES = ["IsEventTrigger", "ReadTriggerTags", "IsOptedIn"]
METRICS = {"OldestReplicationSlotLag", "TransactionLogsDiskUsage", "FreeStorageSpace"}
GIB = 1024**3


def instance_arn() -> str:
    return boto3.client("rds").describe_db_instances(DBInstanceIdentifier=INSTANCE)["DBInstances"][0]["DBInstanceArn"]


def tag(tags: dict[str, str]) -> None:
    boto3.client("rds").add_tags_to_resource(
        ResourceName=instance_arn(), Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
    )


def created_event() -> dict[str, Any]:
    """RDS-EVENT-0005 as EventBridge delivers it to the state machine."""
    arn = instance_arn()
    return {
        "version": "0",
        "id": "68f6e973-1a0c-d37b-f2f2-94a7f62ffd4e",
        "detail-type": "RDS DB Instance Event",
        "source": "aws.rds",
        "account": "123456789012",
        "time": "2024-05-01T10:00:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": {
            "EventCategories": ["creation"],
            "SourceType": "DB_INSTANCE",
            "SourceArn": arn,
            "Date": "2024-05-01T10:00:00.000Z",
            "Message": "DB instance created",
            "SourceIdentifier": INSTANCE,
            "EventID": "RDS-EVENT-0005",
        },
    }


def tag_change_event(tags: dict[str, str], arn: str | None = None, resource_type: str = "db") -> dict[str, Any]:
    return {
        "version": "0",
        "id": "ffd8a6fe-32f8-ef66-c85c-111111111111",
        "detail-type": "Tag Change on Resource",
        "source": "aws.tag",
        "account": "123456789012",
        "time": "2024-05-01T10:00:00Z",
        "region": "us-east-1",
        "resources": [arn or instance_arn()],
        "detail": {
            "changed-tag-keys": ["streamkap:cdc"],
            "service": "rds",
            "resource-type": resource_type,
            "version": 2,
            "tags": tags,
        },
    }


def alarms() -> dict[str, dict[str, Any]]:
    found = boto3.client("cloudwatch").describe_alarms(AlarmNamePrefix="rds-cdc-setup-")["MetricAlarms"]
    return {alarm["MetricName"]: alarm for alarm in found}


def state_output(execution: Execution, state: str) -> dict[str, Any]:
    [output] = [
        json.loads(e["stateExitedEventDetails"]["output"])
        for e in execution.events
        if e.get("stateExitedEventDetails", {}).get("name") == state
    ]
    return output


@pytest.mark.parametrize("tags", [{}, {"streamkap:cdc": "disabled"}], ids=["untagged", "opted-out"])
def test_an_instance_without_the_opt_in_tag_ends_skipped_and_is_not_touched(stack: Stack, tags: dict[str, str]):
    # Given an instance without streamkap:cdc=enabled, created (RDS-EVENT-0005)
    if tags:
        tag(tags)

    # When the rule starts the workflow with the event
    execution = stack.workflow.run(created_event())

    # Then it succeeds as Skipped, right after reading the tags, and nothing was done to it
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["status"] == "Skipped"
    assert execution.output["db_instance_identifier"] == INSTANCE
    assert ("streamkap:cdc=disabled" if tags else "no streamkap:cdc tag") in execution.output["message"]
    assert execution.states_entered == [*TRIGGER_STATES, "Skipped"]
    assert stack.instance.calls == [] and stack.instance.reboots == 0
    assert stack.sql("SELECT count(*) FROM pg_replication_slots") == [[0]]
    assert alarms() == {}


def test_a_tagged_instance_is_set_up_with_its_tagged_settings_and_gets_alarms(stack: Stack):
    # Given the opt-in tag and settings as tags: schemas, an alarm threshold and the WAL guard
    tags = {
        "streamkap:cdc": "enabled",
        "streamkap:cdc/database": "orders",
        "streamkap:cdc/schemas": "public inventory",
        "streamkap:cdc/alarm-slot-lag-gib": "2",
    }
    wal_guard = stack.server.major_version >= 13  # max_slot_wal_keep_size exists from PostgreSQL 13
    if wal_guard:
        tags["streamkap:cdc/max-slot-wal-keep-size-mb"] = "4096"
    tag(tags)

    # When the tag change starts the workflow
    execution = stack.workflow.run(tag_change_event(tags))

    # Then the event path leads into the normal workflow with the tagged settings
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.states_entered[:5] == [*TRIGGER_STATES, "UseTaggedSettings", "ValidateInput"]
    assert execution.output["status"] == "Ready"
    assert "inventory.stock" in execution.output["tables_csv"]
    if wal_guard:
        guard = (
            "set max_slot_wal_keep_size=4096 in parameter group orders-prod-streamkap-cdc "
            "(MB, from max_slot_wal_keep_size_mb)"
        )
        assert guard in execution.output["changes"]
        assert stack.sql("SHOW max_slot_wal_keep_size") == [["4GB"]]
    # And CreateAlarms ran before CreateSlot: three alarms on the instance, to the topic, tagged threshold used
    entered = execution.states_entered
    assert entered.index("CreateSlot") == entered.index("CreateAlarms") + 1
    assert entered[entered.index("CreateAlarms") - 1] == "HasRdsMetrics"
    created = alarms()
    assert created.keys() == METRICS
    for alarm in created.values():
        assert alarm["Dimensions"] == [{"Name": "DBInstanceIdentifier", "Value": INSTANCE}]
        assert alarm["AlarmActions"] == alarm["OKActions"] == [stack.workflow.topic_arn]
    assert created["OldestReplicationSlotLag"]["Threshold"] == 2 * GIB
    assert created["FreeStorageSpace"]["ComparisonOperator"] == "LessThanThreshold"
    assert sorted(state_output(execution, "CreateAlarms")["alarms"]["changes"]) == sorted(
        f"created alarm rds-cdc-setup-{INSTANCE}-{metric} ({summary})"
        for metric, summary in (
            ("OldestReplicationSlotLag", "OldestReplicationSlotLag > 2 GiB"),
            ("TransactionLogsDiskUsage", "TransactionLogsDiskUsage > 10 GiB"),
            ("FreeStorageSpace", "FreeStorageSpace < 5 GiB"),
        )
    )


def test_a_misspelt_setting_tag_fails_as_invalid_input(stack: Stack):
    tag({"streamkap:cdc": "enabled", "streamkap:cdc/databse": "orders"})

    execution = stack.workflow.run(created_event())

    assert execution.status == "FAILED"
    assert execution.error == "InvalidInput" and "Refused setting tags: streamkap:cdc/databse." in execution.cause
    assert execution.states_entered == ["IsEventTrigger", "ReadTriggerTags", "NotifyFailure", "Failed"]
    assert stack.instance.calls == []


def test_the_plain_input_still_starts_at_validate_input_and_a_dry_run_creates_no_alarm(stack: Stack):
    execution = stack.run(dry_run=True)

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["status"] == "DryRun"
    assert execution.states_entered[:2] == ["IsEventTrigger", "ValidateInput"]
    assert "CreateAlarms" not in execution.states_entered
    assert alarms() == {}


def test_a_second_run_changes_no_alarm_and_new_thresholds_update_them(stack: Stack):
    first = stack.run()
    assert first.status == "SUCCEEDED", first.cause
    created = [c for c in state_output(first, "CreateAlarms")["alarms"]["changes"] if c.startswith("created alarm")]
    assert len(created) == 3  # on 20 GiB and PostgreSQL 13+, a line on the lowered slot-lag alarm too (test_wal_keep)

    again = stack.run()
    changed = stack.run(alarm_free_storage_gib=20)

    assert state_output(again, "CreateAlarms")["alarms"]["changes"] == []
    assert state_output(changed, "CreateAlarms")["alarms"]["changes"] == [
        f"updated alarm rds-cdc-setup-{INSTANCE}-FreeStorageSpace (FreeStorageSpace < 20 GiB)"
    ]
    assert alarms()["FreeStorageSpace"]["Threshold"] == 20 * GIB


# ---- Aurora PostgreSQL clusters ---------------------------------------------------------------

CLUSTER, WRITER = "orders-aurora", "orders-aurora-writer"
OPTED_IN = {"streamkap:cdc": "enabled", "streamkap:cdc/database": "orders", "streamkap:cdc/poll-seconds": "5"}


@dataclass
class NewCluster:
    """An emulated Aurora cluster as RDS-EVENT-0170 finds it: without a writer until `add_writer`."""

    server: LocalPostgres
    emulator: RdsEmulator
    workflow: LocalWorkflow
    cluster: EmulatedInstance

    def add_writer(self) -> None:
        self.emulator.add_writer(self.cluster, writer_id=WRITER, rds_client=boto3.client("rds"))

    def arn(self) -> str:
        return boto3.client("rds").describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]["DBClusterArn"]

    def created_event(self) -> dict[str, Any]:
        """RDS-EVENT-0170 ("DB cluster created", detail-type "RDS DB Cluster Event") as EventBridge delivers it."""
        arn = self.arn()
        return {
            "version": "0",
            "id": "9f3b2a61-6c1d-4a0e-b1d5-2f0c3e8d7a41",
            "detail-type": "RDS DB Cluster Event",
            "source": "aws.rds",
            "account": "123456789012",
            "time": "2024-05-01T10:00:00Z",
            "region": "us-east-1",
            "resources": [arn],
            "detail": {
                "EventCategories": ["creation"],
                "SourceType": "CLUSTER",
                "SourceArn": arn,
                "Date": "2024-05-01T10:00:00.000Z",
                "Message": "DB cluster created",
                "SourceIdentifier": CLUSTER,
                "EventID": "RDS-EVENT-0170",
            },
        }

    def sql_wal_level(self) -> str:
        conn = self.server.connect("orders")
        try:
            return conn.run("SHOW wal_level")[0][0]
        finally:
            conn.close()

    def cluster_group(self) -> str:
        return boto3.client("rds").describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0][
            "DBClusterParameterGroup"
        ]


def new_cluster(server: LocalPostgres, tags: dict[str, str]) -> Iterator[NewCluster]:
    server.create_database("orders")
    run_script(server, "orders", SAMPLE_SCHEMA)
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        RdsEmulator() as emulator,
        LocalWorkflow() as workflow,
    ):
        cluster = emulator.add_cluster(
            cluster_id=CLUSTER,
            writer_id=None,
            server=server,
            db_name="orders",
            rds_client=boto3.client("rds"),
            secrets_client=boto3.client("secretsmanager"),
            tags=tags,
        )
        yield NewCluster(server, emulator, workflow, cluster)


@pytest.fixture
def tagged_cluster(new_server: LocalPostgres) -> Iterator[NewCluster]:
    yield from new_cluster(new_server, OPTED_IN)


@pytest.fixture
def untagged_cluster(new_server: LocalPostgres) -> Iterator[NewCluster]:
    yield from new_cluster(new_server, {"team": "orders"})


def test_the_opt_in_tag_set_on_a_cluster_sets_the_cluster_up(tagged_cluster: NewCluster):
    # Given a cluster with its writer, tagged streamkap:cdc=enabled
    tagged_cluster.add_writer()

    # When the tag change (resource-type cluster) starts the workflow
    execution = tagged_cluster.workflow.run(tag_change_event(OPTED_IN, tagged_cluster.arn(), "cluster"))

    # Then the setup runs on the cluster: cluster parameter group, writer rebooted, Ready
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.states_entered[:5] == [*TRIGGER_STATES, "UseTaggedSettings", "ValidateInput"]
    assert "WaitForClusterWriter" not in execution.states_entered
    assert state_output(execution, "ValidateInput")["input"]["db_cluster_identifier"] == CLUSTER
    assert execution.output["status"] == "Ready"
    assert tagged_cluster.cluster_group() == f"{CLUSTER}-streamkap-cdc"
    assert tagged_cluster.cluster.calls == [f"ModifyDBCluster {CLUSTER}-streamkap-cdc", "RebootDBInstance"]
    assert tagged_cluster.sql_wal_level() == "logical"
    secret = boto3.client("secretsmanager").describe_secret(
        SecretId=execution.output["connector"]["password_secret_arn"]
    )
    assert secret["Name"] == f"rds-cdc-setup/{CLUSTER}/streamkap_user"


def test_a_new_cluster_is_waited_for_until_it_has_a_writer_then_set_up(tagged_cluster: NewCluster):
    # Given a new tagged cluster whose writer is created after the cluster event, while the workflow waits
    reads = []

    def writer_created_after_two_reads(function_name: str) -> None:
        if function_name.endswith("ReadTriggerTags"):
            reads.append(function_name)
            if len(reads) == 2:
                tagged_cluster.add_writer()

    tagged_cluster.workflow.after_step = writer_created_after_two_reads

    # When RDS-EVENT-0170 starts the workflow
    execution = tagged_cluster.workflow.run(tagged_cluster.created_event())

    # Then it waits while the cluster has no writer, reads again after each wait, and goes on to Ready
    assert execution.status == "SUCCEEDED", execution.cause
    wait_and_read = ["WaitForClusterWriter", "ReadTriggerTags", "IsOptedIn"]
    assert execution.states_entered[:11] == [
        *TRIGGER_STATES,
        *wait_and_read,
        *wait_and_read,
        "UseTaggedSettings",
        "ValidateInput",
    ]
    assert len(reads) == 3
    assert state_output(execution, "ValidateInput")["input"]["db_cluster_identifier"] == CLUSTER
    assert execution.output["status"] == "Ready"
    assert tagged_cluster.cluster.reboots == 1


def test_a_cluster_that_never_gets_a_writer_fails_after_max_wait_minutes(new_server: LocalPostgres):
    tags = {**OPTED_IN, "streamkap:cdc/max-wait-minutes": "1", "streamkap:cdc/poll-seconds": "20"}
    for cluster in new_cluster(new_server, tags):
        execution = cluster.workflow.run(cluster.created_event())

        assert execution.status == "FAILED"
        assert execution.error == "TargetNotAvailable"
        assert f"{CLUSTER} still has no writer instance after 1 minutes" in execution.cause
        assert execution.states_entered.count("WaitForClusterWriter") == 3  # 60 s / 20 s
        assert "ValidateInput" not in execution.states_entered
        assert cluster.cluster.calls == []


def test_an_untagged_cluster_ends_skipped_naming_the_cluster(untagged_cluster: NewCluster):
    untagged_cluster.add_writer()

    execution = untagged_cluster.workflow.run(untagged_cluster.created_event())

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {
        "status": "Skipped",
        "db_cluster_identifier": CLUSTER,
        "message": (
            f"Aurora cluster {CLUSTER} has no streamkap:cdc tag; "
            "tag it streamkap:cdc=enabled to have it set up for CDC."
        ),
    }
    assert execution.states_entered == [*TRIGGER_STATES, "Skipped"]
    assert untagged_cluster.cluster.calls == [] and untagged_cluster.cluster.reboots == 0


def test_an_instance_event_for_a_cluster_member_is_skipped_even_when_the_instance_is_tagged(
    untagged_cluster: NewCluster,
):
    # Given the writer of an (untagged) Aurora cluster, itself carrying the opt-in tag
    untagged_cluster.add_writer()
    rds = boto3.client("rds")
    writer_arn = rds.describe_db_instances(DBInstanceIdentifier=WRITER)["DBInstances"][0]["DBInstanceArn"]
    rds.add_tags_to_resource(ResourceName=writer_arn, Tags=[{"Key": "streamkap:cdc", "Value": "enabled"}])

    # When its tag change starts the workflow
    execution = untagged_cluster.workflow.run(tag_change_event({"streamkap:cdc": "enabled"}, writer_arn))

    # Then no instance setup runs on it: Skipped, telling to tag the cluster
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.states_entered == [*TRIGGER_STATES, "Skipped"]
    output = execution.output
    assert (output["status"], output["db_instance_identifier"], output["db_cluster_identifier"]) == (
        "Skipped",
        WRITER,
        CLUSTER,
    )
    assert f"Tag the cluster ({untagged_cluster.arn()}) streamkap:cdc=enabled" in output["message"]
    assert untagged_cluster.cluster.calls == [] and untagged_cluster.cluster.reboots == 0


# ---- a tag cannot redirect the run (issue 12, finding 1) ------------------------------------------

SANDBOX, SANDBOX_CLUSTER, PROD_CLUSTER = "orders-sandbox", "sandbox-aurora", "prod-aurora"


@dataclass
class TwoWorlds:
    """Prod (the stack's orders-prod and the prod-aurora cluster) on one server, a sandbox instance
    and cluster on another: whoever may tag the sandbox must not reach prod through its tags."""

    prod: Stack
    sandbox_server: LocalPostgres
    sandbox_cluster: EmulatedInstance
    prod_cluster: EmulatedInstance

    def snapshot(self) -> dict[str, Any]:
        rds = boto3.client("rds")
        clusters = sorted(
            (
                c["DBClusterIdentifier"],
                c["Status"],
                c["DBClusterParameterGroup"],
                sorted(
                    (m["DBInstanceIdentifier"], m.get("DBClusterParameterGroupStatus")) for m in c["DBClusterMembers"]
                ),
            )
            for c in rds.describe_db_clusters()["DBClusters"]
        )
        cluster_groups = {
            g["DBClusterParameterGroupName"]: sorted(
                (p["ParameterName"], p.get("ParameterValue"))
                for p in rds.describe_db_cluster_parameters(
                    DBClusterParameterGroupName=g["DBClusterParameterGroupName"]
                )["Parameters"]
            )
            for g in rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
        }
        return {
            "prod": everything(self.prod.server, "orders"),  # + RDS: both instances and their parameter groups
            "sandbox": catalog(self.sandbox_server, "orders"),
            "clusters": clusters,
            "cluster_parameter_groups": cluster_groups,
        }

    def emulated(self) -> list[EmulatedInstance]:
        return [*self.prod.emulator.instances.values(), self.sandbox_cluster, self.prod_cluster]


@pytest.fixture(scope="module")
def two_worlds() -> Iterator[TwoWorlds]:
    prod_server, sandbox_server = LocalPostgres().init().start(), LocalPostgres().init().start()
    try:
        sandbox_server.create_database("orders")
        run_script(sandbox_server, "orders", SAMPLE_SCHEMA)
        for prod in make_stack(prod_server):
            rds, sm = boto3.client("rds"), boto3.client("secretsmanager")
            prod.emulator.add_instance(
                instance_id=SANDBOX,
                server=sandbox_server,
                db_name="orders",
                engine_version=sandbox_server.version,
                rds_client=rds,
                secrets_client=sm,
            )
            clusters = [
                prod.emulator.add_cluster(
                    cluster_id=cluster_id,
                    writer_id=f"{cluster_id}-writer",
                    server=server,
                    db_name="orders",
                    rds_client=rds,
                    secrets_client=sm,
                )
                for cluster_id, server in ((SANDBOX_CLUSTER, sandbox_server), (PROD_CLUSTER, prod_server))
            ]
            yield TwoWorlds(prod, sandbox_server, *clusters)
    finally:
        prod_server.destroy()
        sandbox_server.destroy()


def arn_of(kind: str, identifier: str) -> str:
    rds = boto3.client("rds")
    if kind == "cluster":
        return rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]["DBClusterArn"]
    return rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]["DBInstanceArn"]


@pytest.mark.parametrize(
    ("kind", "sandbox", "redirect"),
    [
        ("db", SANDBOX, {"streamkap:cdc/db-instance-identifier": INSTANCE}),
        ("db", SANDBOX, {"streamkap:cdc/db-instance-identifier": INSTANCE, "streamkap:cdc/user-name": "master"}),
        ("db", SANDBOX, {"streamkap:cdc/user_name": "master"}),
        ("cluster", SANDBOX_CLUSTER, {"streamkap:cdc/db-cluster-identifier": PROD_CLUSTER}),
        (
            "cluster",
            SANDBOX_CLUSTER,
            {"streamkap:cdc/db-cluster-identifier": PROD_CLUSTER, "streamkap:cdc/user-name": "master"},
        ),
    ],
    ids=["instance-to-prod", "instance-to-prod-master", "instance-master", "cluster-to-prod", "cluster-to-prod-master"],
)
def test_a_tag_naming_another_target_or_the_master_user_fails_and_changes_nothing(
    two_worlds: TwoWorlds, kind: str, sandbox: str, redirect: dict[str, str]
):
    # Given an opted-in sandbox whose tags also name prod, or the master user ("master" on both servers)
    assert two_worlds.prod.server.master_user == two_worlds.sandbox_server.master_user == "master"
    rds, arn = boto3.client("rds"), arn_of(kind, sandbox)
    tags = {"streamkap:cdc": "enabled", "streamkap:cdc/database": "orders", **redirect}
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    before = two_worlds.snapshot()
    try:
        # When the tag change starts the workflow
        execution = two_worlds.prod.workflow.run(tag_change_event(tags, arn, kind))
    finally:
        rds.remove_tags_from_resource(ResourceName=arn, TagKeys=list(tags))

    # Then it fails in ReadTriggerTags as InvalidInput naming each refused tag, before any target is described
    assert execution.status == "FAILED"
    assert execution.error == "InvalidInput", execution.cause
    assert f"Refused setting tags: {', '.join(sorted(redirect))}." in execution.cause
    assert execution.states_entered == ["IsEventTrigger", "ReadTriggerTags", "NotifyFailure", "Failed"]
    # And nothing changed on either side: catalogs, instances, clusters and their parameter groups
    assert two_worlds.snapshot() == before
    for emulated in two_worlds.emulated():
        assert emulated.calls == [] and emulated.reboots == 0
    # And the master's password still works on both servers
    for server in (two_worlds.prod.server, two_worlds.sandbox_server):
        server.connect("orders", user="master", password=server.master_password).close()
