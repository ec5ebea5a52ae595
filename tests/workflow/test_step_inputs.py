"""Each Lambda step's input model against what the step is really given: the setup workflow run on
an RDS instance (dry run, reboot "never", ready, bad input, an EventBridge start), on a self-managed
server (refused after the lock, then ready) and on an Aurora cluster, the teardown (dry run, every
part, bad input) and a fleet of two (one member failing). Every Lambda invocation in their histories
is parsed with its step's input model, and every Lambda step of each ASL is seen at least once.
tests/unit/test_step_inputs.py checks the same models against every path of the ASL, walked."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from lambdas.shared import names
from local.postgres_server import LocalPostgres
from local.workflow_runner import Execution, LocalWorkflow
from tests.unit.test_step_inputs import asl, input_model, lambda_steps
from tests.workflow.conftest import INSTANCE, Stack
from tests.workflow.test_aurora import make_cluster
from tests.workflow.test_fleet import BAD, GOOD, make_fleet
from tests.workflow.test_self_managed import SelfManaged
from tests.workflow.test_self_managed import self_managed as self_managed
from tests.workflow.test_teardown import EVERYTHING, TEARDOWN_ASL
from tests.workflow.test_trigger import tag, tag_change_event

pytestmark = pytest.mark.workflow


def invocations(execution: Execution) -> Iterator[tuple[str, dict[str, Any]]]:
    """(step, input) of every Lambda invocation in the execution's history (a Task whose Resource is
    the function's ARN is recorded as LambdaFunctionScheduled, with the input the function got)."""
    for event in execution.events:
        if details := event.get("lambdaFunctionScheduledEventDetails"):
            yield details["resource"].rpartition(":")[2].removeprefix(f"{names.PROJECT}-"), json.loads(details["input"])


class Seen:
    """The steps whose every input parsed, per workflow; the failures, named."""

    def __init__(self) -> None:
        self.steps: dict[str, set[str]] = defaultdict(set)
        self.failures: list[str] = []

    def check(self, workflow: str, execution: Execution) -> None:
        for step, payload in invocations(execution):
            model = input_model(step)
            if model is not None:
                self.failures += parse_problems(step, model, payload)
            self.steps[workflow].add(step)

    def every_step(self, workflow: str) -> set[str]:
        return {step for _, step, _ in lambda_steps(asl(workflow))}


def parse_problems(step: str, model: type[BaseModel], payload: dict[str, Any]) -> list[str]:
    try:
        model.model_validate(payload)
    except ValidationError as error:
        return [f"{step}: {model.__name__} rejects what the step was given ({sorted(payload)}): {error}"]
    return []


def test_setup_and_teardown_steps_on_an_instance_parse_what_they_are_given(stack: Stack):
    seen = Seen()
    for execution_input in (
        {"dry_run": True},
        {"reboot": "never"},
        {"allow_cidrs": ["203.0.113.0/24"]},  # the reboot, then ready, then EnsureSecurityGroup
        {"dry_run": True, "unknown_option": 1},  # InvalidInput in ValidateInput
    ):
        seen.check("cdc_setup.asl.json", stack.run(**execution_input))
    tag({"streamkap:cdc": "enabled", "streamkap:cdc/schemas": "public inventory"})
    started = stack.workflow.run(tag_change_event({"streamkap:cdc": "enabled"}))
    assert started.status == "SUCCEEDED", started.cause
    seen.check("cdc_setup.asl.json", started)
    with LocalWorkflow(asl_file=TEARDOWN_ASL) as teardown:
        for execution_input in (
            {**EVERYTHING, "dry_run": True},
            {**EVERYTHING, "drop_alarms": True, "drop_security_group": True, "drop_check_schedule": True},
            {},
        ):
            seen.check("cdc_teardown.asl.json", teardown.run({"db_instance_identifier": INSTANCE, **execution_input}))
    assert seen.failures == []
    # every setup step but the self-managed server's own, which the next test sees, and the registration's,
    # which need Streamkap's API (tests/workflow/test_register_source.py parses theirs)
    registration = {"RegisterSource", "ConfirmSourceStreaming"}
    assert seen.steps["cdc_setup.asl.json"] == seen.every_step("cdc_setup.asl.json") - {
        "DescribeSelfManagedTarget",
        *registration,
    }
    assert seen.steps["cdc_teardown.asl.json"] == seen.every_step("cdc_teardown.asl.json")


def test_setup_steps_on_a_self_managed_server_parse_what_they_are_given(self_managed: SelfManaged):
    seen = Seen()
    refused = self_managed.run()  # wal_level replica: InvalidInput in Preflight, after the lock
    assert refused.status == "FAILED" and "ReleaseLock" in refused.states_entered
    seen.check("cdc_setup.asl.json", refused)
    self_managed.server.restart(wal_level="logical")
    ready = self_managed.run()
    assert ready.status == "SUCCEEDED", ready.cause
    seen.check("cdc_setup.asl.json", ready)
    assert seen.failures == []
    assert "DescribeSelfManagedTarget" in seen.steps["cdc_setup.asl.json"]


def test_setup_steps_on_an_aurora_cluster_parse_what_they_are_given(new_server: LocalPostgres):
    seen = Seen()
    for cluster in make_cluster(new_server):
        execution = cluster.run()
        assert execution.status == "SUCCEEDED", execution.cause
        seen.check("cdc_setup.asl.json", execution)
    assert seen.failures == []
    assert {"EnsureParameterGroup", "CheckRebootStatus", "CreateAlarms"} <= seen.steps["cdc_setup.asl.json"]


def test_fleet_steps_parse_what_they_are_given():
    seen = Seen()
    for fleet in make_fleet():
        execution = fleet.fleet.run(
            {"db_instance_identifiers": [GOOD, BAD], "setup": {"schemas": ["public", "inventory"], "poll_seconds": 5}}
        )
        assert execution.status == "SUCCEEDED", execution.cause
        assert {i["status"] for i in execution.output["instances"]} == {"Ready", "Failed"}
        seen.check("cdc_fleet.asl.json", execution)
    assert seen.failures == []
    assert seen.steps["cdc_fleet.asl.json"] == seen.every_step("cdc_fleet.asl.json")
