"""One lock per target through the real state machines (issue 13, finding 5): the second of two
executions on one target stops before changing anything, whatever the identifier's case, setup
and teardown exclude each other, the lock is released on every way out, and a lock whose holder
no longer runs (or whose lease expired) is taken over."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import boto3
import pytest

from lambdas.dal.locks import Locks
from local.workflow_runner import ROOT, LocalWorkflow
from tests.snapshots import everything
from tests.workflow.conftest import INSTANCE, Stack

pytestmark = pytest.mark.workflow

TEARDOWN_ASL = ROOT / "statemachine" / "cdc_teardown.asl.json"
TABLE = "rds-cdc-setup-locks"
KEY = f"instance:{INSTANCE}"
NOWHERE = "arn:aws:states:us-east-1:123456789012:execution:rds-cdc-setup:long-gone"


def lock_item(target: str = KEY) -> dict | None:
    item = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"target": {"S": target}}, ConsistentRead=True)
    return {k: next(iter(v.values())) for k, v in item["Item"].items()} if "Item" in item else None


def write_lock(holder: str, expires_at: int, operation: str = "setup") -> None:
    boto3.client("dynamodb").put_item(
        TableName=TABLE,
        Item={
            "target": {"S": KEY},
            "holder": {"S": holder},
            "operation": {"S": operation},
            "acquired_at": {"N": str(int(time.time()) - 60)},
            "expires_at": {"N": str(expires_at)},
        },
    )


@contextmanager
def held_after(workflows: list[LocalWorkflow], step: str, start: Callable[[], str]) -> Iterator[str]:
    """Start an execution and hold it right after its `step` (the lock taken); it goes on on exit.
    The hook goes on every workflow of the test: the last one entered runs every task in-process."""
    reached, go_on = threading.Event(), threading.Event()

    def pause(function_name: str) -> None:
        if function_name.endswith(f"-{step}") and not reached.is_set():
            reached.set()
            go_on.wait(120)

    for workflow in workflows:
        workflow.after_step = pause
    execution = start()
    try:
        assert reached.wait(60), f"{step} was never reached"
        for workflow in workflows:
            workflow.after_step = None  # only the first execution pauses
        yield execution
    finally:
        go_on.set()


@pytest.fixture
def teardown(stack: Stack) -> Iterator[LocalWorkflow]:
    with LocalWorkflow(asl_file=TEARDOWN_ASL) as workflow:
        yield workflow


def start_setup(stack: Stack, **extra) -> Callable[[], str]:
    return lambda: stack.workflow.start({"db_instance_identifier": INSTANCE, "schemas": ["public"], **extra})


def test_an_identifier_in_another_case_is_the_same_target_and_stops_before_any_change(stack: Stack):
    with held_after([stack.workflow], "AcquireLock", start_setup(stack)) as first:
        holder = lock_item()
        before = everything(stack.server, "orders")

        second = stack.run(db_instance_identifier=INSTANCE.upper())

        assert second.error == "ConcurrentExecution", second.cause
        assert first.rsplit(":", 1)[-1] in second.cause and "(setup)" in second.cause and KEY in second.cause
        assert "DescribeTarget" not in second.states_entered
        assert everything(stack.server, "orders") == before
        # its release on the way out left the holder's lock alone
        assert "ReleaseLock" in second.states_entered
        assert lock_item() == holder and holder["holder"] == first
    finished = stack.workflow.wait(first)
    assert finished.status == "SUCCEEDED", finished.cause
    assert lock_item() is None


def test_teardown_stops_while_setup_holds_the_target(stack: Stack, teardown: LocalWorkflow):
    with held_after([stack.workflow, teardown], "AcquireLock", start_setup(stack)) as setup:
        before = everything(stack.server, "orders")
        refused = teardown.run({"db_instance_identifier": INSTANCE.upper(), "drop_slot": True, "drop_user": True})

        assert refused.error == "ConcurrentExecution", refused.cause
        assert setup.rsplit(":", 1)[-1] in refused.cause and "(setup)" in refused.cause
        assert "DescribeTeardownTarget" not in refused.states_entered
        assert everything(stack.server, "orders") == before
        assert lock_item()["holder"] == setup  # type: ignore[index]
    assert stack.workflow.wait(setup).status == "SUCCEEDED"


def test_setup_stops_while_teardown_holds_the_target_and_runs_once_it_is_done(stack: Stack, teardown: LocalWorkflow):
    start = lambda: teardown.start({"db_instance_identifier": INSTANCE, "drop_slot": True, "dry_run": True})  # noqa: E731
    with held_after([stack.workflow, teardown], "AcquireTeardownLock", start) as held:
        before = everything(stack.server, "orders")
        refused = stack.run(dry_run=True)

        assert refused.error == "ConcurrentExecution", refused.cause
        assert held.rsplit(":", 1)[-1] in refused.cause and "(teardown)" in refused.cause
        assert everything(stack.server, "orders") == before
        assert lock_item()["operation"] == "teardown"  # type: ignore[index]
    assert teardown.wait(held).status == "SUCCEEDED"
    assert lock_item() is None  # released before its report
    assert stack.run(dry_run=True).status == "SUCCEEDED"


def test_released_on_success_on_failure_on_reboot_pending_and_on_a_dry_run(stack: Stack, teardown: LocalWorkflow):
    dry = stack.run(dry_run=True)
    assert dry.output["status"] == "DryRun" and lock_item() is None

    failed = stack.run(database="no_such_database")  # fails after the lock was taken
    assert failed.status == "FAILED" and failed.error != "ConcurrentExecution", failed.cause
    assert failed.states_entered.index("AcquireLock") < failed.states_entered.index("ReleaseLock")
    assert lock_item() is None

    pending = stack.run(reboot="never")
    assert pending.output["status"] == "RebootPending" and lock_item() is None

    ready = stack.run()
    assert ready.output["status"] == "Ready" and lock_item() is None

    refused = teardown.run({"db_instance_identifier": INSTANCE, "drop_slot": True, "database": "no_such_database"})
    assert refused.status == "FAILED" and "ReleaseTeardownLock" in refused.states_entered, refused.cause
    assert lock_item() is None
    assert teardown.run({"db_instance_identifier": INSTANCE, "drop_slot": True}).status == "SUCCEEDED"
    assert lock_item() is None


def test_a_failure_keeps_its_own_error_after_the_release(stack: Stack):
    failed = stack.run(database="no_such_database")
    direct = failed.cause
    assert failed.error not in (None, "ConcurrentExecution", "States.Runtime")
    assert "no_such_database" in direct
    assert failed.states_entered[-3:] == ["LockReleased", "NotifyFailure", "Failed"]


def test_a_lock_whose_holder_no_longer_exists_is_taken_over(stack: Stack):
    write_lock(NOWHERE, int(time.time()) + 86_400)
    execution = stack.run(dry_run=True)
    assert execution.status == "SUCCEEDED", execution.cause
    assert lock_item() is None  # taken over, then released


def test_a_lock_whose_holder_was_aborted_is_taken_over(stack: Stack):
    sfn = boto3.client("stepfunctions")
    with held_after([stack.workflow], "AcquireLock", start_setup(stack)) as aborted:
        sfn.stop_execution(executionArn=aborted)
    assert stack.workflow.wait(aborted).status == "ABORTED"
    assert lock_item()["holder"] == aborted  # type: ignore[index]  # an abort runs no Catch, no release

    execution = stack.run(dry_run=True)

    assert execution.status == "SUCCEEDED", execution.cause
    assert lock_item() is None


def test_a_running_holders_lock_is_kept_until_it_expires_then_taken_over(stack: Stack):
    with held_after([stack.workflow], "AcquireLock", start_setup(stack, dry_run=True)) as running:
        refused = stack.run(dry_run=True)
        assert refused.error == "ConcurrentExecution"
        assert lock_item()["holder"] == running  # type: ignore[index]

        write_lock(running, int(time.time()) - 1)  # its lease ran out
        taken = stack.run(dry_run=True)

        assert taken.status == "SUCCEEDED", taken.cause
    # the first one's release finds the lock no longer its own and leaves it as it is
    assert stack.workflow.wait(running).status == "SUCCEEDED"
    assert lock_item() is None


class LostRelease(Exception):
    """Stands for a release step that never reached DynamoDB (killed, or its retries spent)."""


def test_a_run_whose_release_was_lost_keeps_its_outcome_and_the_next_run_takes_over(stack: Stack, monkeypatch):
    # Given a run whose release fails for good: the lock stays behind
    def lost(self, target: str, holder: str) -> bool:
        raise LostRelease("the release never reached DynamoDB")

    with monkeypatch.context() as patched:
        patched.setattr(Locks, "release", lost)
        execution = stack.run(dry_run=True)
    # Then the run's own outcome is kept: a lost release is no reason to fail a finished run
    assert execution.status == "SUCCEEDED" and execution.output["status"] == "DryRun", execution.cause
    assert "ReleaseLock" in execution.states_entered
    assert lock_item()["holder"] == execution.arn  # type: ignore[index]
    # And the next run takes the lock over, its holder having ended
    again = stack.run(dry_run=True)
    assert again.status == "SUCCEEDED", again.cause
    assert lock_item() is None
