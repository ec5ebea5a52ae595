"""Self-managed (non-RDS) PostgreSQL: the real ASL against a local server with no emulated RDS
instance at all. Given host + port + master_secret_arn, the run never calls the RDS API, never
restarts the server, and ends Ready; a server below wal_level=logical is refused with the fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws

from local.postgres_server import LocalPostgres
from local.workflow_runner import Execution, LocalWorkflow
from tests.integration.conftest import SAMPLE_SCHEMA, run_script
from tests.snapshots import catalog

pytestmark = pytest.mark.workflow

RDS_STATES = {
    "DescribeTarget",
    "WaitForTarget",
    "EnsureParameterGroup",
    "RebootInstance",
    "WaitForReboot",
    "CheckRebootStatus",
    "CreateAlarms",
}


@dataclass
class SelfManaged:
    server: LocalPostgres
    workflow: LocalWorkflow
    secret_arn: str

    def run(self, **extra) -> Execution:
        return self.workflow.run(
            {
                "host": self.server.host,
                "port": self.server.port,
                "database": "orders",
                "schemas": ["public", "inventory"],
                "master_secret_arn": self.secret_arn,
                **extra,
            }
        )

    def started_at(self) -> str:
        conn = self.server.connect()
        try:
            return str(conn.run("SELECT pg_postmaster_start_time()")[0][0])
        finally:
            conn.close()


@pytest.fixture
def self_managed(self_managed_server: LocalPostgres) -> Iterator[SelfManaged]:
    self_managed_server.create_database("orders")
    run_script(self_managed_server, "orders", SAMPLE_SCHEMA)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), LocalWorkflow() as workflow:
        secret = boto3.client("secretsmanager").create_secret(
            Name="self-managed/orders-master",
            SecretString=json.dumps(
                {"username": self_managed_server.master_user, "password": self_managed_server.master_password}
            ),
        )
        yield SelfManaged(self_managed_server, workflow, secret["ARN"])


def secrets() -> list[str]:
    return sorted(s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"])


def test_given_wal_level_replica_when_run_then_invalid_input_names_the_fix_and_nothing_changes(self_managed):
    before, secrets_before, started = catalog(self_managed.server, "orders"), secrets(), self_managed.started_at()

    execution = self_managed.run()

    assert execution.status == "FAILED"
    assert execution.error == "InvalidInput", execution.cause
    assert "wal_level=replica" in execution.cause
    assert "ALTER SYSTEM SET wal_level = logical" in execution.cause and "restart PostgreSQL" in execution.cause
    assert "max_replication_slots" in execution.cause and "max_wal_senders" in execution.cause
    assert self_managed.server.master_password not in json.dumps(execution.events, default=str)
    assert catalog(self_managed.server, "orders") == before and secrets() == secrets_before
    assert self_managed.started_at() == started  # never restarted
    assert "DescribeSelfManagedTarget" in execution.states_entered
    assert not RDS_STATES & set(execution.states_entered)
    assert boto3.client("rds").describe_db_instances()["DBInstances"] == []


def test_given_wal_level_logical_when_run_then_ready_without_rds_and_a_rerun_changes_nothing(self_managed):
    self_managed.server.restart(wal_level="logical")  # what the DBA does after the message above
    started = self_managed.started_at()

    execution = self_managed.run()

    assert execution.status == "SUCCEEDED", execution.cause
    output = execution.output
    assert output["status"] == "Ready"
    assert output["connector"]["hostname"] == self_managed.server.host
    assert output["connector"]["port"] == self_managed.server.port and output["connector"]["database"] == "orders"
    assert output["verification"]["wal_level"] == "logical" and output["verification"]["peek_ok"]
    assert "created replication slot streamkap_pgoutput_slot (pgoutput)" in output["changes"]
    assert not [c for c in output["changes"] if "parameter group" in c or "reboot" in c]
    assert not RDS_STATES & set(execution.states_entered)
    assert self_managed.started_at() == started
    conn = self_managed.server.connect("orders")
    try:
        # No rds_replication here: the REPLICATION attribute, on the user itself (attributes are not inherited).
        assert conn.run("SELECT rolreplication FROM pg_roles WHERE rolname = 'streamkap_user'") == [[True]]
        assert conn.run("SELECT count(*) FROM pg_roles WHERE rolname = 'rds_replication'") == [[0]]
    finally:
        conn.close()
    # The user's secret is named after host-port/database: a secret name allows no ':'.
    port = self_managed.server.port
    assert f"rds-cdc-setup/{self_managed.server.host}-{port}/orders/streamkap_user" in secrets()
    assert boto3.client("rds").describe_db_instances()["DBInstances"] == []

    again = self_managed.run()
    assert again.status == "SUCCEEDED", again.cause
    assert again.output["status"] == "Ready" and again.output["changes"] == []


def test_a_dry_run_on_a_logical_server_plans_without_rds_steps_and_changes_nothing(self_managed):
    self_managed.server.restart(wal_level="logical")
    before, secrets_before = catalog(self_managed.server, "orders"), secrets()

    execution = self_managed.run(dry_run=True)

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["status"] == "DryRun"
    plan = execution.output["plan"]
    assert "create replication slot streamkap_pgoutput_slot (pgoutput)" in plan
    assert not [step for step in plan if "parameter group" in step or "reboot" in step]
    assert next(step for step in plan if "max_slot_wal_keep_size" in step).endswith("bounds the WAL a slot may hold)")
    assert catalog(self_managed.server, "orders") == before and secrets() == secrets_before


def test_host_with_an_rds_identifier_or_without_a_master_secret_is_invalid_input(self_managed):
    with_instance = self_managed.run(db_instance_identifier="orders-prod")
    assert with_instance.status == "FAILED" and with_instance.error == "InvalidInput"
    assert "host (self-managed PostgreSQL) excludes db_instance_identifier" in with_instance.cause

    without_secret = self_managed.workflow.run({"host": self_managed.server.host, "database": "orders"})
    assert without_secret.status == "FAILED" and without_secret.error == "InvalidInput"
    assert "master_secret_arn is required with host" in without_secret.cause
