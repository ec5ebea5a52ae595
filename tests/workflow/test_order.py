"""Finding 7 of issue 13, through the real ASL: alarms exist before the slot does, the teardown deletes
the alarms setup made (only those, only ours), and its DDL gives up on a lock instead of queueing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from unittest import mock

import boto3
import pytest

from lambdas.logic.monitoring import METRICS
from local.workflow_runner import ROOT, Execution, LocalWorkflow
from tests.snapshots import everything
from tests.workflow.conftest import INSTANCE, Stack

pytestmark = pytest.mark.workflow

TEARDOWN_ASL = ROOT / "statemachine" / "cdc_teardown.asl.json"
OURS = {f"rds-cdc-setup-{INSTANCE}-{metric}" for metric in METRICS}


class SlotCrash(Exception):
    pass


def alarm_names() -> set[str]:
    return {a["AlarmName"] for a in boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]}


def slots(stack: Stack) -> list[str]:
    return [row[0] for row in stack.sql("SELECT slot_name::text FROM pg_replication_slots")]


def put_alarm(name: str, description: str) -> None:
    boto3.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        AlarmDescription=description,
        Namespace="AWS/RDS",
        MetricName="CPUUtilization",
        Statistic="Average",
        Period=300,
        EvaluationPeriods=1,
        Threshold=90.0,
        ComparisonOperator="GreaterThanThreshold",
    )


def test_a_run_failing_right_after_create_slot_leaves_the_slot_already_watched(stack: Stack):
    def crash(function_name: str) -> None:
        if function_name.endswith("-CreateSlot"):
            raise SlotCrash("the run died after creating the slot")

    stack.workflow.after_step = crash
    execution = stack.run()

    assert execution.status == "FAILED" and execution.error == "SlotCrash"
    entered = execution.states_entered
    assert entered.index("CreateAlarms") < entered.index("CreateSlot")
    assert slots(stack) == ["streamkap_pgoutput_slot"]
    assert alarm_names() == OURS


def test_dry_runs_and_reboot_pending_runs_create_no_alarm(stack: Stack):
    dry = stack.run(dry_run=True)
    pending = stack.run(reboot="never")

    assert (dry.output["status"], pending.output["status"]) == ("DryRun", "RebootPending")
    assert "CreateAlarms" not in dry.states_entered + pending.states_entered
    assert alarm_names() == set()


@pytest.fixture
def teardown(stack: Stack) -> Iterator[tuple[Stack, LocalWorkflow]]:
    setup = stack.run()
    assert setup.status == "SUCCEEDED", setup.cause
    assert alarm_names() == OURS
    with LocalWorkflow(asl_file=TEARDOWN_ASL) as workflow:
        yield stack, workflow


def run(workflow: LocalWorkflow, **execution_input) -> Execution:
    return workflow.run({"db_instance_identifier": INSTANCE, **execution_input})


def test_drop_alarms_deletes_only_the_targets_alarms_and_a_rerun_finds_nothing(teardown):
    stack, workflow = teardown
    # Another instance's alarms (a name the target's is a prefix of) and someone's own alarm stay
    neighbour = f"rds-cdc-setup-{INSTANCE}-2-FreeStorageSpace"
    put_alarm(neighbour, f"rds-cdc-setup, instance {INSTANCE}-2: free storage")
    put_alarm("team-cpu", "the team's own")

    plan = run(workflow, drop_alarms=True, dry_run=True)
    assert plan.status == "SUCCEEDED", plan.cause
    assert sorted(plan.output["plan"]) == sorted(f"delete alarm {name}" for name in OURS)
    assert alarm_names() == OURS | {neighbour, "team-cpu"}

    removed = run(workflow, drop_alarms=True)
    again = run(workflow, drop_alarms=True)

    assert removed.status == "SUCCEEDED", removed.cause
    assert sorted(removed.output["changes"]) == sorted(f"delete alarm {name}" for name in OURS)
    assert removed.states_entered[-7:] == [
        "DropAlarmsChosen",
        "DropAlarms",
        "DropSecurityGroupChosen",  # not chosen: passed by
        "DropCheckScheduleChosen",  # likewise
        "ReleaseTeardownLock",
        "TeardownLockReleased",
        "ReportTeardown",
    ]
    assert alarm_names() == {neighbour, "team-cpu"}
    assert again.status == "SUCCEEDED" and again.output["changes"] == []
    assert slots(stack) == ["streamkap_pgoutput_slot"]  # only the chosen part went


def test_an_alarm_with_our_name_but_not_our_marker_is_refused_and_nothing_is_removed(teardown):
    stack, workflow = teardown
    foreign = f"rds-cdc-setup-{INSTANCE}-FreeStorageSpace"
    put_alarm(foreign, "the DBA's own storage alarm")  # overwrites ours: same name, not our marker
    before = everything(stack.server, "orders")

    refused = run(workflow, drop_slot=True, drop_alarms=True)

    assert refused.status == "FAILED" and refused.error == "NotOwned"
    assert foreign in refused.cause and "not its marker" in refused.cause
    assert "DropSlot" not in refused.states_entered  # refused by PlanTeardown, before any change
    assert alarm_names() == OURS
    assert everything(stack.server, "orders") == before


def test_teardown_ddl_gives_up_on_a_held_lock_naming_the_holder_and_changes_nothing(teardown):
    stack, workflow = teardown
    # An application transaction reads the signal table and stays open: DROP TABLE would queue behind it
    holder = stack.server.connect_admin("orders")
    try:
        holder.run("BEGIN")
        holder.run("SELECT count(*) FROM streamkap.streamkap_signal")
        [[pid]] = holder.run("SELECT pg_backend_pid()")
        before = everything(stack.server, "orders")

        with mock.patch.dict(os.environ, {"LOCK_TIMEOUT_MS": "300"}):
            blocked = run(workflow, drop_tables=True)

        assert blocked.status == "FAILED" and blocked.error == "LongTransactionBlocking"
        assert "DropSignalTables gave up after 300 ms" in blocked.cause
        assert f"pid {pid} " in blocked.cause and "streamkap.streamkap_signal" in blocked.cause
        assert everything(stack.server, "orders") == before
    finally:
        holder.run("ROLLBACK")
        holder.close()

    # Once the application's transaction ends, the same teardown goes through
    done = run(workflow, drop_tables=True)
    assert done.status == "SUCCEEDED", done.cause
    assert stack.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'streamkap'") == [[0]]
