"""Fleet mode through the real state machines: statemachine/cdc_fleet.asl.json's Map starts one
execution of the setup state machine per instance (states:startExecution.sync:2, run by moto's
interpreter) and reports each, on two emulated instances, each with its own PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws

from local.postgres_server import LocalPostgres
from local.rds_emulator import EmulatedInstance, RdsEmulator
from local.workflow_runner import ROOT, LocalWorkflow
from tests.integration.conftest import SAMPLE_SCHEMA, run_script

pytestmark = pytest.mark.workflow

FLEET_ASL = ROOT / "statemachine" / "cdc_fleet.asl.json"
GOOD, BAD = "orders-eu", "orders-us"  # BAD holds a table without a primary key


@dataclass
class Fleet:
    servers: dict[str, LocalPostgres]
    instances: dict[str, EmulatedInstance]
    setup: LocalWorkflow
    fleet: LocalWorkflow

    def setup_executions(self) -> list[dict]:
        sfn = boto3.client("stepfunctions")
        listed = sfn.list_executions(stateMachineArn=self.setup.state_machine_arn)["executions"]
        return [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]


def make_fleet() -> Iterator[Fleet]:
    servers = {name: LocalPostgres().init().start() for name in (GOOD, BAD)}
    try:
        for server in servers.values():
            server.create_database("orders")
            run_script(server, "orders", SAMPLE_SCHEMA)
        run_script(servers[BAD], "orders", "CREATE TABLE public.audit_log (at timestamptz, line text);")
        with (
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
            RdsEmulator() as emulator,
            LocalWorkflow() as setup,
            LocalWorkflow(asl_file=FLEET_ASL, substitutions={"SetupStateMachineArn": setup.state_machine_arn}) as fleet,
        ):
            rds = boto3.client("rds")
            instances = {}
            for name, server in servers.items():
                instances[name] = emulator.add_instance(
                    instance_id=name,
                    server=server,
                    db_name="orders",
                    rds_client=rds,
                    secrets_client=boto3.client("secretsmanager"),
                )
                rds.add_tags_to_resource(
                    ResourceName=f"arn:aws:rds:us-east-1:123456789012:db:{name}",
                    Tags=[{"Key": "team", "Value": "orders"}],
                )
            yield Fleet(servers, instances, setup, fleet)
    finally:
        for server in servers.values():
            server.destroy()


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    yield from make_fleet()


@pytest.fixture(scope="module")
def untouched_fleet() -> Iterator[Fleet]:
    """For the cases that must start no setup: each leaves the fleet as the next one needs it."""
    yield from make_fleet()


def test_a_tagged_fleet_runs_one_setup_per_instance_and_reports_each_even_when_one_fails(fleet: Fleet):
    # Given two instances tagged team=orders; one has a table without a primary key
    execution = fleet.fleet.run(
        {"tag": "team=orders", "setup": {"schemas": ["public", "inventory"], "poll_seconds": 5}}
    )

    # Then the fleet ends with a summary, not a failure, and each instance has its own execution
    assert execution.status == "SUCCEEDED", execution.cause
    output = execution.output
    assert output["status"] == "PartiallyFailed" and output["counts"] == {"Ready": 1, "Failed": 1}
    by_instance = {r["db_instance_identifier"]: r for r in output["instances"]}
    assert by_instance[GOOD]["status"] == "Ready" and "error" not in by_instance[GOOD]
    assert by_instance[BAD]["status"] == "Failed"
    assert by_instance[BAD]["error"] == "ReplicaIdentityMissing"
    assert "public.audit_log" in by_instance[BAD]["message"]
    children = {json.loads(e["input"])["db_instance_identifier"]: e for e in fleet.setup_executions()}
    assert {name: e["status"] for name, e in children.items()} == {GOOD: "SUCCEEDED", BAD: "FAILED"}
    assert by_instance[GOOD]["execution_arn"] == children[GOOD]["executionArn"]
    assert by_instance[BAD]["execution_arn"] == children[BAD]["executionArn"]
    assert json.loads(children[GOOD]["input"])["schemas"] == ["public", "inventory"]  # the shared settings
    # The good instance is ready; the bad one failed in Preflight, before any change
    assert fleet.servers[GOOD].connect("orders").run("SHOW wal_level") == [["logical"]]
    assert fleet.instances[GOOD].reboots == 1
    assert fleet.instances[BAD].calls == [] and fleet.instances[BAD].reboots == 0
    assert "SetupEachInstance" in execution.states_entered


def test_a_listed_fleet_runs_only_the_listed_instances(fleet: Fleet):
    execution = fleet.fleet.run({"db_instance_identifiers": [GOOD], "setup": {"schemas": ["public", "inventory"]}})

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["status"] == "Succeeded" and execution.output["counts"] == {"Ready": 1}
    assert [json.loads(e["input"])["db_instance_identifier"] for e in fleet.setup_executions()] == [GOOD]
    assert fleet.instances[BAD].calls == []


def test_max_concurrency_one_runs_the_setups_one_after_the_other(fleet: Fleet):
    execution = fleet.fleet.run(
        {"tag": "team=orders", "max_concurrency": 1, "setup": {"schemas": ["public"], "replica_identity": "ignore"}}
    )

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["counts"] == {"Ready": 2}
    first, second = sorted(fleet.setup_executions(), key=lambda e: e["startDate"])
    assert second["startDate"] >= first["stopDate"]  # each setup reboots its instance: one at a time


@pytest.mark.parametrize(
    ("fleet_input", "error", "fragment"),
    [
        ({"db_instance_identifiers": [GOOD, "ghost-db"]}, "TargetNotFound", "ghost-db"),
        ({"tag": "team=payments"}, "InvalidInput", "team=payments"),
        ({"tag": "team=orders", "db_instance_identifiers": [GOOD]}, "InvalidInput", "exactly one"),
        ({"tag": "team=orders", "setup": {"shemas": ["public"]}}, "InvalidInput", "shemas"),
        ({"tag": "team=orders", "setup": {"db_instance_identifier": BAD}}, "InvalidInput", "must not name"),
        ({"tag": "team=orders", "max_instances": 1}, "InvalidInput", "max_instances"),
        ({"tag": "team=orders", "max_concurrency": 0}, "InvalidInput", "max_concurrency"),
    ],
    ids=[
        "unknown instance",
        "tag matches none",
        "two selectors",
        "setup typo",
        "setup names target",
        "too many",
        "no concurrency",
    ],
)
def test_bad_fleet_input_fails_with_a_named_error_before_any_setup_starts(
    untouched_fleet: Fleet, fleet_input, error, fragment
):
    execution = untouched_fleet.fleet.run(fleet_input)

    assert execution.status == "FAILED"
    assert execution.error == error and fragment in execution.cause
    assert untouched_fleet.setup_executions() == []
    assert all(instance.calls == [] for instance in untouched_fleet.instances.values())
