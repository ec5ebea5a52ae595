"""The real ASL executed on moto, with the RDS emulator and a fresh local PostgreSQL; each Lambda step
with its own role's policies from the synthesized template (local/step_policies.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.postgres_server import LocalPostgres
from local.rds_emulator import EmulatedInstance, RdsEmulator
from local.step_policies import StepPolicies
from local.workflow_runner import Execution, LocalWorkflow
from tests.infra.template_cache import cached_template
from tests.integration.conftest import SAMPLE_SCHEMA, run_script
from tests.workflow.policy_report import _policies

INSTANCE = "orders-prod"
# The deployment the workflow tests prove: the defaults (master secrets RDS manages), plus the master
# secrets of self-managed servers and those a DBA made, listed as a deployment lists them.
LISTED_MASTER_SECRETS = "arn:aws:secretsmanager:us-east-1:123456789012:secret:listed/*"
SELF_MANAGED_MASTER_SECRETS = "arn:aws:secretsmanager:us-east-1:123456789012:secret:self-managed/*"
WORKFLOW_CONTEXT = {"master_secret_arns": [LISTED_MASTER_SECRETS, SELF_MANAGED_MASTER_SECRETS]}


# ---- every step with its own role's policies; per step, what no test used ---------------------------


@pytest.fixture(scope="session")
def workflow_template() -> dict[str, Any]:
    """Synthesized once per change of the infra sources (~25 s), else read from .cache/synth/."""
    return cached_template(WORKFLOW_CONTEXT)


@pytest.fixture(scope="session", autouse=True)
def step_policies(workflow_template: dict[str, Any]) -> Iterator[StepPolicies]:
    """The template's policies for every LocalWorkflow of the session."""
    policies = StepPolicies(workflow_template)
    _policies.append(policies)
    LocalWorkflow.step_policies = policies
    yield policies
    LocalWorkflow.step_policies = None


@pytest.fixture(autouse=True)
def no_refused_calls(step_policies: StepPolicies) -> Iterator[None]:
    """A call a step's role does not allow fails the test, whatever the workflow made of the refusal."""
    before = len(step_policies.denied)
    yield
    refused = step_policies.denied[before:]
    assert not refused, "IAM refused steps' calls (fix the policy in infra/):\n" + "\n".join(refused)


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
