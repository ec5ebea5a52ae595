"""The real ASL executed on moto, with the RDS emulator and a fresh local PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import boto3
import pytest
from moto import mock_aws

from local.postgres_server import LocalPostgres
from local.rds_emulator import EmulatedInstance, RdsEmulator
from local.workflow_runner import Execution, LocalWorkflow
from tests.integration.conftest import SAMPLE_SCHEMA, run_script

INSTANCE = "orders-prod"


@dataclass
class Stack:
    server: LocalPostgres
    emulator: RdsEmulator
    workflow: LocalWorkflow
    instance: EmulatedInstance
    extra_input: dict = field(default_factory=dict)  # staged by a test, merged into the next run's input

    def run(self, **execution_input) -> Execution:
        return self.workflow.run(
            {
                "db_instance_identifier": INSTANCE,
                "schemas": ["public", "inventory"],
                "poll_seconds": 5,
                **execution_input,
            }
        )

    def describe(self) -> dict:
        return boto3.client("rds").describe_db_instances(DBInstanceIdentifier=INSTANCE)["DBInstances"][0]

    def sql(self, statement: str, **params):
        conn = self.server.connect("orders")
        try:
            return conn.run(statement, **params)
        finally:
            conn.close()


def make_stack(
    server: LocalPostgres,
    *,
    parameter_group: str | None = None,
    describes_per_reboot: int = 1,
    allocated_storage: int = 20,
) -> Iterator[Stack]:
    server.create_database("orders")
    run_script(server, "orders", SAMPLE_SCHEMA)
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        RdsEmulator(describes_per_reboot=describes_per_reboot) as emulator,
        LocalWorkflow() as workflow,
    ):
        rds = boto3.client("rds")
        if parameter_group:
            rds.create_db_parameter_group(
                DBParameterGroupName=parameter_group,
                DBParameterGroupFamily=f"postgres{server.major_version}",
                Description="the team's own group",
            )
        instance = emulator.add_instance(
            instance_id=INSTANCE,
            server=server,
            db_name="orders",
            engine_version=server.version,  # the emulated instance runs what the local server runs
            parameter_group=parameter_group,
            rds_client=rds,
            secrets_client=boto3.client("secretsmanager"),
            allocated_storage=allocated_storage,
        )
        yield Stack(server, emulator, workflow, instance)


@pytest.fixture
def stack(new_server: LocalPostgres) -> Iterator[Stack]:
    yield from make_stack(new_server)
