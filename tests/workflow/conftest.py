"""The real ASL executed on moto, with the RDS emulator and a fresh local PostgreSQL; each Lambda step
with its own role's policies from the synthesized template (local/step_policies.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.shared.steps import STEPS
from local.postgres_server import LocalPostgres
from local.rds_emulator import EmulatedInstance, RdsEmulator
from local.step_policies import StepPolicies
from local.workflow_runner import Execution, LocalWorkflow
from tests.infra.template_cache import ROOT, cached_template
from tests.integration.conftest import SAMPLE_SCHEMA, run_script

INSTANCE = "orders-prod"
REPORT_DIR = ROOT / ".cache" / "step-policies"
# The deployment the workflow tests prove: the defaults (master secrets RDS manages), plus the master
# secrets of self-managed servers and those a DBA made, listed as a deployment lists them.
LISTED_MASTER_SECRETS = "arn:aws:secretsmanager:us-east-1:123456789012:secret:listed/*"
SELF_MANAGED_MASTER_SECRETS = "arn:aws:secretsmanager:us-east-1:123456789012:secret:self-managed/*"
WORKFLOW_CONTEXT = {"master_secret_arns": [LISTED_MASTER_SECRETS, SELF_MANAGED_MASTER_SECRETS]}


# ---- every step with its own role's policies; per step, what no test used ---------------------------

_policies: list[StepPolicies] = []  # this process's, once a workflow test ran
_granted: dict[str, set[str]] = {}  # every process's (the workers' sent to the controller)
_used: dict[str, set[str]] = {}


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


def _usage() -> dict[str, Any]:
    policies = _policies[0]
    return {
        "granted": {step.name: sorted(policies.granted(step.name)) for step in STEPS},
        "used": {step: sorted(actions) for step, actions in policies.used.items()},
    }


def _merge(usage: dict[str, Any]) -> None:
    for step, actions in usage["granted"].items():
        _granted.setdefault(step, set()).update(actions)
    for step, actions in usage["used"].items():
        _used.setdefault(step, set()).update(actions)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _policies:
        return
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: the controller reports
        workeroutput["step_policies"] = json.dumps(_usage())
    else:
        _merge(_usage())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    usage = getattr(node, "workeroutput", {}).get("step_policies")
    if usage:
        _merge(json.loads(usage))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _granted or hasattr(terminalreporter.config, "workeroutput"):
        return
    unused = {
        step: sorted(_granted[step] - _used.get(step, set()))
        for step in sorted(_granted)
        if _granted[step] - _used.get(step, set())
    }
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    major = os.environ.get("PG_MAJOR")
    report = REPORT_DIR / (f"unused-pg{major}.json" if major else "unused.json")
    report.write_text(json.dumps({"unused": unused, "used": {s: sorted(a) for s, a in _used.items()}}, indent=2))
    count = sum(len(actions) for actions in unused.values())
    terminalreporter.write_line(
        f"step policies: {count} granted actions no test used, in {len(unused)} steps "
        f"({report.relative_to(ROOT)}; kms:* is called by Secrets Manager and SNS on AWS, never by moto)"
    )


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
