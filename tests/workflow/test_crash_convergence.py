"""Kill a run after any step has done its work (before it could report it), then run again:
the second run must converge to exactly the end state of an uninterrupted run."""

from __future__ import annotations

import pytest

from lambdas.shared.steps import Workflow, steps_of
from local.postgres_server import LocalPostgres
from tests.snapshots import everything
from tests.workflow.conftest import make_stack

pytestmark = pytest.mark.workflow

# The registry's setup steps a run on an RDS instance never meets, and why; every other step is
# killed once below, so a step added to the registry is crash-tested without being listed here.
OFF_THE_INSTANCE_PATH = {
    "ReadTriggerTags": "runs an EventBridge event starts only (tests/workflow/test_trigger.py)",
    "DescribeSelfManagedTarget": "self-managed servers only (tests/workflow/test_self_managed.py)",
    "NotifyFailure": "the failure path: each crash below goes through it",
    "RegisterSource": "runs with streamkap_api_secret_arn only (tests/workflow/test_register_source.py reruns it)",
    "ConfirmSourceStreaming": "runs with streamkap_api_secret_arn only (tests/workflow/test_register_source.py)",
}
# Steps whose failure the ASL catches and goes on: the killed run still ends Ready.
SURVIVED = {"ReleaseLock": "a lost release fails no run: the next run takes the ended holder's lock over"}
STEPS_ON_THE_PATH = [step.name for step in steps_of(Workflow.SETUP) if step.name not in OFF_THE_INSTANCE_PATH]
# allow_cidrs puts EnsureSecurityGroup on the path (and its group in the end state compared).
RUN_INPUT = {"allow_cidrs": ["203.0.113.0/24"]}


class SimulatedCrash(Exception):
    """Stands for a Lambda killed (timeout, OOM) at this point."""


def end_state(server: LocalPostgres) -> dict:
    # Two servers, two runs: every password (the master's, the new login's) differs by design.
    return everything(server, "orders", password_hashes=False)


@pytest.fixture(scope="module")
def reference() -> dict:
    """The end state of one uninterrupted run."""
    server = LocalPostgres().init().start()
    try:
        for stack in make_stack(server):
            execution = stack.run(**RUN_INPUT)
            assert execution.output["status"] == "Ready"
            return {"state": end_state(server), "steps": set(execution.states_entered)}
    finally:
        server.destroy()


def test_an_uninterrupted_run_meets_every_step_but_those_off_its_path(reference):
    assert reference["steps"] & {step.name for step in steps_of(Workflow.SETUP)} == set(STEPS_ON_THE_PATH)


@pytest.mark.parametrize("step", STEPS_ON_THE_PATH)
def test_a_run_killed_after_any_step_converges_when_run_again(new_server, reference, step):
    for stack in make_stack(new_server):
        crashed: list[str] = []

        def crash_once(function_name: str, crashed: list[str] = crashed) -> None:
            if function_name.endswith(f"-{step}") and not crashed:
                crashed.append(function_name)
                raise SimulatedCrash(f"killed after {step}")

        stack.workflow.after_step = crash_once
        first = stack.run(**RUN_INPUT)
        assert crashed
        if step in SURVIVED:
            assert first.status == "SUCCEEDED" and first.output["status"] == "Ready", first.cause
        else:
            assert first.status == "FAILED" and first.error == "SimulatedCrash"

        second = stack.run(**RUN_INPUT)
        assert second.status == "SUCCEEDED", second.cause
        assert second.output["status"] == "Ready"
        assert stack.instance.reboots <= 2
        assert end_state(new_server) == reference["state"]
