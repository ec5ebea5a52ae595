"""Aurora PostgreSQL through the real state machine: the cluster parameter group, the writer's
reboot, the cluster endpoint and the cluster's master secret, on the emulated cluster."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws

from local.postgres_server import LocalPostgres
from local.rds_emulator import EmulatedInstance, RdsEmulator
from local.workflow_runner import Execution, LocalWorkflow
from tests.integration.conftest import SAMPLE_SCHEMA, run_script

pytestmark = pytest.mark.workflow

CLUSTER, WRITER = "orders-aurora", "orders-aurora-writer"
CUSTOM_GROUP = "orders-aurora-streamkap-cdc"


@dataclass
class ClusterStack:
    server: LocalPostgres
    writer: EmulatedInstance
    workflow: LocalWorkflow

    def run(self, **execution_input) -> Execution:
        return self.workflow.run(
            {"db_cluster_identifier": CLUSTER, "schemas": ["public", "inventory"], "poll_seconds": 5, **execution_input}
        )

    def cluster(self) -> dict:
        return boto3.client("rds").describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]

    def user_parameters(self, group: str) -> dict[str, str]:
        found = boto3.client("rds").describe_db_cluster_parameters(DBClusterParameterGroupName=group, Source="user")
        return {p["ParameterName"]: p["ParameterValue"] for p in found["Parameters"]}

    def sql(self, statement: str):
        conn = self.server.connect("orders")
        try:
            return conn.run(statement)
        finally:
            conn.close()


def make_cluster(
    server: LocalPostgres, cluster_parameter_group: str | None = None, *, team_values: bool = True
) -> Iterator[ClusterStack]:
    """`cluster_parameter_group`: the team's own group, set for logical replication, or with
    `team_values` False holding only a value of the team's (work_mem)."""
    server.create_database("orders")
    run_script(server, "orders", SAMPLE_SCHEMA)
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        RdsEmulator() as emulator,
        LocalWorkflow() as workflow,
    ):
        rds = boto3.client("rds")
        if cluster_parameter_group:  # the team's own group
            rds.create_db_cluster_parameter_group(
                DBClusterParameterGroupName=cluster_parameter_group,
                DBParameterGroupFamily="aurora-postgresql15",
                Description="the team's own cluster group",
            )
            values = [("rds.logical_replication", "1", "pending-reboot"), ("wal_sender_timeout", "0", "immediate")]
            rds.modify_db_cluster_parameter_group(
                DBClusterParameterGroupName=cluster_parameter_group,
                Parameters=[
                    {"ParameterName": name, "ParameterValue": value, "ApplyMethod": method}
                    for name, value, method in (values if team_values else [("work_mem", "65536", "immediate")])
                ],
            )
        writer = emulator.add_cluster(
            cluster_id=CLUSTER,
            writer_id=WRITER,
            server=server,
            db_name="orders",
            cluster_parameter_group=cluster_parameter_group,
            rds_client=rds,
            secrets_client=boto3.client("secretsmanager"),
        )
        yield ClusterStack(server, writer, workflow)


@pytest.fixture
def aurora(new_server: LocalPostgres) -> Iterator[ClusterStack]:
    yield from make_cluster(new_server)


def test_default_cluster_group_is_replaced_attached_to_the_cluster_and_the_writer_rebooted_once(aurora):
    # Given a cluster on default.aurora-postgresql15 and a writer at wal_level=replica
    assert aurora.cluster()["DBClusterParameterGroup"] == "default.aurora-postgresql15"
    assert aurora.sql("SHOW wal_level") == [["replica"]]

    execution = aurora.run()

    assert execution.status == "SUCCEEDED", execution.cause
    output = execution.output
    assert output["status"] == "Ready"
    assert output["changes"][:4] == [
        f"create cluster parameter group {CUSTOM_GROUP} (family aurora-postgresql15)",
        f"set rds.logical_replication=1 in cluster parameter group {CUSTOM_GROUP}",
        f"set wal_sender_timeout=0 in cluster parameter group {CUSTOM_GROUP}",
        f"attach cluster parameter group {CUSTOM_GROUP} to cluster {CLUSTER}",
    ]
    assert (
        f"rebooted instance {WRITER} (writer of cluster {CLUSTER}) to apply rds.logical_replication=1"
        in (output["changes"])
    )
    # the custom group holds both parameters, the default group is untouched
    assert aurora.user_parameters(CUSTOM_GROUP) == {"rds.logical_replication": "1", "wal_sender_timeout": "0"}
    assert aurora.user_parameters("default.aurora-postgresql15") == {}
    cluster = aurora.cluster()
    assert cluster["DBClusterParameterGroup"] == CUSTOM_GROUP
    assert [(m["DBInstanceIdentifier"], m["DBClusterParameterGroupStatus"]) for m in cluster["DBClusterMembers"]] == [
        (WRITER, "in-sync")
    ]
    # the writer was rebooted once, after the group was attached, and the engine now decodes
    assert aurora.writer.calls == [f"ModifyDBCluster {CUSTOM_GROUP}", "RebootDBInstance"]
    assert aurora.sql("SHOW wal_level") == [["logical"]] and aurora.sql("SHOW wal_sender_timeout") == [["0"]]
    # SQL went to the cluster (writer) endpoint; the user's secret is named after the cluster
    connector = output["connector"]
    assert (connector["hostname"], connector["port"]) == (cluster["Endpoint"], cluster["Port"])
    secret = boto3.client("secretsmanager").describe_secret(SecretId=connector["password_secret_arn"])
    assert secret["Name"] == f"rds-cdc-setup/{CLUSTER}/streamkap_user"
    # PostgreSQL 10-12 cannot publish a partitioned table: its two partitions are listed instead
    published = 4 if aurora.server.major_version >= 13 else 5
    assert output["verification"]["peek_ok"] and output["tables_csv"].count("\n") == published


def test_an_already_ready_cluster_gets_no_group_change_and_no_reboot(aurora):
    first = aurora.run()
    assert first.status == "SUCCEEDED", first.cause
    calls_before = list(aurora.writer.calls)

    second = aurora.run()

    assert second.status == "SUCCEEDED", second.cause
    assert second.output["status"] == "Ready" and second.output["changes"] == []
    assert aurora.writer.calls == calls_before and aurora.writer.reboots == 1
    assert "RebootInstance" not in second.states_entered
    assert second.output["connector"] == first.output["connector"]


def test_a_cluster_ready_from_the_start_gets_only_the_database_objects():
    # Given a cluster whose own group already has logical replication on, and a writer at wal_level=logical
    server = LocalPostgres(settings={"wal_level": "logical"}).init().start()
    try:
        for aurora in make_cluster(server, cluster_parameter_group="team-aurora-pg15"):
            execution = aurora.run()

            assert execution.status == "SUCCEEDED", execution.cause
            changes = execution.output["changes"]
            assert not any("parameter group" in c or c.startswith("rebooted") for c in changes), changes
            assert changes  # the role, user, grants, publication and slot
            assert "RebootInstance" not in execution.states_entered
            assert aurora.writer.calls == [] and aurora.writer.reboots == 0
            assert aurora.cluster()["DBClusterParameterGroup"] == "team-aurora-pg15"
    finally:
        server.destroy()


def test_reboot_never_leaves_the_writer_pending_reboot_on_the_cluster_group(aurora):
    pending = aurora.run(reboot="never")

    assert pending.status == "SUCCEEDED", pending.cause
    assert pending.output["status"] == "RebootPending"
    [member] = aurora.cluster()["DBClusterMembers"]
    assert member["DBClusterParameterGroupStatus"] == "pending-reboot"
    assert aurora.writer.reboots == 0 and aurora.sql("SHOW wal_level") == [["replica"]]


def test_a_cluster_of_another_engine_is_rejected_before_any_change(aurora):
    rds = boto3.client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier="orders-mysql",
        Engine="aurora-mysql",
        EngineVersion="8.0.mysql_aurora.3.05.2",
        MasterUsername="admin",
        ManageMasterUserPassword=True,
    )

    execution = aurora.run(db_cluster_identifier="orders-mysql")

    assert execution.status == "FAILED"
    assert execution.error == "UnsupportedEngine" and "aurora-mysql" in execution.cause
    assert aurora.writer.calls == []
