"""The teardown state machine executed after a real setup run: what it removes, what it keeps."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator

import boto3
import pytest

from local.workflow_runner import ROOT, Execution, LocalWorkflow
from tests.workflow.conftest import INSTANCE, Stack

pytestmark = pytest.mark.workflow

TEARDOWN_ASL = ROOT / "statemachine" / "cdc_teardown.asl.json"
EVERYTHING = dict(drop_slot=True, drop_publication=True, drop_tables=True, drop_user=True, revert_parameter_group=True)


class Teardown:
    def __init__(self, stack: Stack, workflow: LocalWorkflow) -> None:
        self.stack, self.workflow = stack, workflow

    def run(self, **execution_input) -> Execution:
        return self.workflow.run({"db_instance_identifier": INSTANCE, **execution_input})


@pytest.fixture
def ready(stack: Stack) -> Iterator[tuple[Stack, dict]]:
    """A database setup made ready, through the setup state machine; with the heartbeat table (not the
    default on 14+), so teardown has both of the workflow's tables to drop."""
    execution = stack.run(heartbeat="table")
    assert execution.status == "SUCCEEDED", execution.cause
    yield stack, execution.output


@pytest.fixture
def teardown(ready) -> Iterator[Teardown]:
    with LocalWorkflow(asl_file=TEARDOWN_ASL) as workflow:
        yield Teardown(ready[0], workflow)


def catalog(stack: Stack) -> dict:
    """Everything setup creates, as the server and the emulated AWS see it."""
    [[slots, publications, tables, schema, roles]] = stack.sql(
        """SELECT (SELECT count(*) FROM pg_replication_slots),
                  (SELECT count(*) FROM pg_publication),
                  (SELECT count(*) FROM pg_tables WHERE tablename IN ('streamkap_signal', 'streamkap_heartbeat')),
                  (SELECT count(*) FROM pg_namespace WHERE nspname = 'streamkap'),
                  (SELECT count(*) FROM pg_roles WHERE rolname IN ('streamkap_user', 'streamkap_role'))"""
    )
    secrets = [s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"]]
    group = stack.describe()["DBParameterGroups"][0]
    return {
        "slots": slots,
        "publications": publications,
        "tables": tables,
        "schema": schema,
        "roles": roles,
        "user_secret": f"rds-cdc-setup/{INSTANCE}/streamkap_user" in secrets,
        "parameter_group": (group["DBParameterGroupName"], group["ParameterApplyStatus"]),
    }


SET_UP = {
    "slots": 1,
    "publications": 1,
    "tables": 2,
    "schema": 1,
    "roles": 2,
    "user_secret": True,
    "parameter_group": ("orders-prod-streamkap-cdc", "in-sync"),
}


def test_everything_chosen_is_removed_and_the_application_data_is_kept(teardown):
    stack = teardown.stack
    assert catalog(stack) == SET_UP
    orders_before = stack.sql("SELECT count(*), sum(total) FROM public.orders")

    execution = teardown.run(**EVERYTHING)
    major = stack.server.major_version

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["status"] == "Removed"
    assert catalog(stack) == {
        "slots": 0,
        "publications": 0,
        "tables": 0,
        "schema": 0,
        "roles": 0,
        "user_secret": False,
        "parameter_group": (f"default.postgres{major}", "pending-reboot"),
    }
    assert stack.sql("SELECT count(*), sum(total) FROM public.orders") == orders_before
    changes = execution.output["changes"]
    assert changes[0] == "drop replication slot streamkap_pgoutput_slot"
    assert "drop publication streamkap_pub" in changes
    assert "drop table streamkap.streamkap_heartbeat, streamkap.streamkap_signal" in changes
    assert "drop role streamkap_user" in changes and "drop role streamkap_role" in changes
    assert changes[-1].startswith(f"attach parameter group default.postgres{major} to instance orders-prod")
    assert "Reboot the instance" in execution.output["message"]


def test_a_second_teardown_changes_nothing_and_runs_no_ddl(teardown):
    first = teardown.run(**EVERYTHING)
    assert first.status == "SUCCEEDED", first.cause
    log_before = len(teardown.stack.server.log_text())

    second = teardown.run(**EVERYTHING)

    assert second.status == "SUCCEEDED", second.cause
    assert second.output == {"status": "Removed", "changes": [], "message": "Nothing left to remove."}
    new_log = teardown.stack.server.log_text()[log_before:]
    assert not any(f"statement: {verb}" in new_log for verb in ("CREATE", "ALTER", "GRANT", "DROP", "REVOKE"))


def test_setup_after_teardown_converges_to_ready_again(teardown):
    assert teardown.run(**EVERYTHING).status == "SUCCEEDED"

    again = teardown.stack.run(heartbeat="table")

    assert again.status == "SUCCEEDED", again.cause
    assert again.output["status"] == "Ready" and again.output["verification"]["heartbeat_seen"]
    assert catalog(teardown.stack) == SET_UP


def test_each_part_is_opt_in(teardown):
    execution = teardown.run(drop_publication=True)

    assert execution.output["changes"] == ["drop publication streamkap_pub"]
    assert catalog(teardown.stack) == {**SET_UP, "publications": 0}
    assert [s for s in execution.states_entered if s.startswith("Drop") and not s.endswith("Chosen")] == [
        "DropPublication"
    ]


def test_dry_run_returns_the_plan_and_changes_nothing(teardown):
    log_before = len(teardown.stack.server.log_text())

    execution = teardown.run(**EVERYTHING, dry_run=True)

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["status"] == "DryRun"
    plan = execution.output["plan"]
    assert plan[0] == "drop replication slot streamkap_pgoutput_slot"
    assert any(p.startswith("delete secret arn:aws:secretsmanager:") for p in plan)
    assert plan[-1].startswith(f"attach parameter group default.postgres{teardown.stack.server.major_version}")
    assert catalog(teardown.stack) == SET_UP
    assert "statement: DROP" not in teardown.stack.server.log_text()[log_before:]


@pytest.fixture
def slot_reader(teardown) -> Iterator[subprocess.Popen]:
    """A connector stand-in: pg_recvlogical streaming from the slot, so the slot is active."""
    server = teardown.stack.server
    server.sync_rds_replication(connecting_as=server.master_user)  # as RDS would: rds_replication lets it stream
    reader = subprocess.Popen(
        [
            str(server.client_tool("pg_recvlogical")),  # the npm builds lack it: then apt's client
            *("-h", server.host, "-p", str(server.port), "-U", server.master_user, "-d", "orders"),
            *("--slot", "streamkap_pgoutput_slot", "--start", "--no-loop", "-f", "/dev/null"),
            *("-o", "proto_version=1", "-o", "publication_names=streamkap_pub"),
        ],
        env={**os.environ, "PGPASSWORD": server.master_password},
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while teardown.stack.sql("SELECT active FROM pg_replication_slots") != [[True]]:
        assert reader.poll() is None and time.monotonic() < deadline, reader.stderr.read() if reader.stderr else ""
        time.sleep(0.05)
    yield reader
    reader.kill()
    reader.wait()


def test_an_active_slot_is_refused_without_force_and_nothing_is_removed(teardown, slot_reader):
    execution = teardown.run(**EVERYTHING)

    assert execution.status == "FAILED"
    assert execution.error == "SlotInUse"
    assert "force" in execution.cause
    assert "DropSlot" not in execution.states_entered
    assert catalog(teardown.stack) == SET_UP
    assert slot_reader.poll() is None  # the connector was left alone


def test_an_active_slot_is_dropped_with_force_after_ending_its_reader(teardown, slot_reader):
    execution = teardown.run(drop_slot=True, force=True)

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["changes"][0].startswith("end the session reading slot streamkap_pgoutput_slot (pid ")
    assert catalog(teardown.stack)["slots"] == 0
    assert slot_reader.wait(timeout=10) != 0  # its session was terminated


def test_reverting_the_parameter_group_while_a_slot_remains_is_refused(teardown):
    execution = teardown.run(revert_parameter_group=True)

    assert execution.error == "SlotConflict"
    assert "streamkap_pgoutput_slot" in execution.cause
    assert catalog(teardown.stack) == SET_UP


@pytest.mark.parametrize(
    ("execution_input", "complaint"),
    [
        ({}, "nothing to remove"),
        ({"drop_slot": True, "slot_name": "Bad; DROP TABLE orders"}, "slot_name"),
        ({"drop_slot": True, "drop_slots": True}, "drop_slots"),
        ({"drop_slot": True, "db_cluster_identifier": "orders-aurora"}, "not both"),
        ({"drop_slot": True, "host": "db.internal"}, "excludes db_instance_identifier"),
    ],
)
def test_bad_input_is_invalid_input_and_changes_nothing(teardown, execution_input, complaint):
    execution = teardown.run(**execution_input)

    assert execution.error == "InvalidInput"
    assert complaint in execution.cause
    assert execution.states_entered == ["ValidateTeardownInput", "NotifyTeardownFailure", "TeardownFailed"]
    assert catalog(teardown.stack) == SET_UP


def test_no_secret_appears_in_the_teardown_history(teardown):
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=f"rds-cdc-setup/{INSTANCE}/streamkap_user")
    password = json.loads(secret["SecretString"])["password"]

    execution = teardown.run(**EVERYTHING)

    history = json.dumps(execution.events, default=str) + json.dumps(execution.output)
    assert password not in history and teardown.stack.server.master_password not in history
