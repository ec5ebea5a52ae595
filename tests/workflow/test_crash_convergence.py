"""Kill a run after any step has done its work (before it could report it), then run again:
the second run must converge to exactly the end state of an uninterrupted run."""

from __future__ import annotations

import pytest

from local.postgres_server import LocalPostgres
from tests.snapshots import everything
from tests.workflow.conftest import make_stack

pytestmark = pytest.mark.workflow

STEPS_WITH_EFFECTS = [
    "ValidateInput",
    "AcquireLock",  # the lock written, the step lost: the failure path releases it (holder is this run)
    "DescribeTarget",
    "Preflight",
    "EnsureParameterGroup",
    "RebootInstance",
    "CheckRebootStatus",
    "ConfigureDatabase",
    "CreateSlot",
    "Verify",
    "Report",
]


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
            assert stack.run().output["status"] == "Ready"
            return end_state(server)
    finally:
        server.destroy()


@pytest.mark.parametrize("step", STEPS_WITH_EFFECTS)
def test_a_run_killed_after_any_step_converges_when_run_again(new_server, reference, step):
    for stack in make_stack(new_server):
        crashed: list[str] = []

        def crash_once(function_name: str, crashed: list[str] = crashed) -> None:
            if function_name.endswith(f"-{step}") and not crashed:
                crashed.append(function_name)
                raise SimulatedCrash(f"killed after {step}")

        stack.workflow.after_step = crash_once
        first = stack.run()
        assert first.status == "FAILED" and first.error == "SimulatedCrash" and crashed

        second = stack.run()
        assert second.status == "SUCCEEDED", second.cause
        assert second.output["status"] == "Ready"
        assert stack.instance.reboots <= 2
        assert end_state(new_server) == reference
