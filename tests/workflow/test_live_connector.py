"""Setup and teardown beside a live connector: pg_recvlogical (the server's own) streams the slot
as the CDC user, confirming every second, as a Streamkap connector would."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator

import boto3
import pytest

from lambdas.logic import verify as verify_module
from local.workflow_runner import Execution, LocalWorkflow
from tests.live_connector import LiveConnector, live_connector, slot_state
from tests.snapshots import everything
from tests.workflow.conftest import INSTANCE, Stack
from tests.workflow.test_teardown import TEARDOWN_ASL

pytestmark = pytest.mark.workflow

SLOT = "streamkap_pgoutput_slot"


def step_output(execution: Execution, state: str) -> dict:
    [output] = [
        json.loads(e["stateExitedEventDetails"]["output"])
        for e in execution.events
        if e.get("stateExitedEventDetails", {}).get("name") == state
    ]
    return output


@pytest.fixture
def streaming(stack: Stack, tmp_path) -> Iterator[tuple[Stack, LiveConnector]]:
    """A setup made ready through the setup state machine, and a connector streaming its slot. With the
    heartbeat table, whose updates the tests count; the reruns' "auto" keeps it (an earlier setup made it)."""
    execution = stack.run(heartbeat="table")
    assert execution.status == "SUCCEEDED", execution.cause
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=f"rds-cdc-setup/{INSTANCE}/streamkap_user")
    user = json.loads(secret["SecretString"])
    with live_connector(
        stack.server,
        database="orders",
        user=user["username"],
        password=user["password"],
        output=tmp_path / "received.bin",
    ) as connector:
        yield stack, connector


def heartbeat_updates(stack: Stack, connector: LiveConnector) -> int:
    """pgoutput Update messages ('U' + relation oid) of the heartbeat table the connector received."""
    [[oid]] = stack.sql("SELECT 'streamkap.streamkap_heartbeat'::regclass::oid::int")
    return connector.received().count(b"U" + struct.pack("!I", oid))


def test_adding_a_table_and_rerunning_beside_a_live_connector_is_ready_by_the_live_proof(streaming):
    stack, connector = streaming
    pid = connector.pid
    updates_before = heartbeat_updates(stack, connector)
    stack.sql("CREATE TABLE public.returns (id int PRIMARY KEY, order_id int)")

    execution = stack.run()

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["status"] == "Ready"
    assert execution.output["verification"]["proof"] == "live"
    assert execution.output["verification"]["heartbeat_seen"] is True
    assert stack.sql("SELECT 1 FROM pg_publication_tables WHERE tablename = 'returns'") == [[1]]
    plan = step_output(execution, "Preflight")["preflight"]["plan"]
    assert "add 1 tables to publication streamkap_pub" in plan
    assert (
        f"publication streamkap_pub is read by an active slot {SLOT} (pid {pid}): adding 1 table(s) changes "
        "what the running connector receives"
    ) in plan
    # The connector received Verify's heartbeat (an UPDATE of the row) and kept streaming.
    assert heartbeat_updates(stack, connector) > updates_before
    assert connector.process.poll() is None and connector.pid == pid


def test_a_live_connector_that_never_confirms_is_verification_failed_and_only_the_heartbeat_changed(
    streaming, monkeypatch
):
    stack, connector = streaming
    monkeypatch.setattr(verify_module, "LIVE_CONFIRM_SECONDS", 3)  # the handlers run in-process
    connector.pause()  # connected, the slot active, but it confirms nothing any more
    pid = connector.pid
    before = everything(stack.server, "orders")
    heartbeat_before = stack.sql("SELECT ts FROM streamkap.streamkap_heartbeat")

    execution = stack.run()

    assert execution.status == "FAILED"
    assert execution.error == "VerificationFailed"
    assert f"Replication slot {SLOT} is streamed by process {pid}" in execution.cause
    assert "bytes behind" in execution.cause
    assert everything(stack.server, "orders") == before
    assert stack.sql("SELECT ts FROM streamkap.streamkap_heartbeat") != heartbeat_before
    assert slot_state(stack.server, "orders", SLOT)[:2] == [True, pid]  # the connector was left alone


@pytest.fixture
def teardown(streaming) -> Iterator[tuple[Stack, LiveConnector, LocalWorkflow]]:
    with LocalWorkflow(asl_file=TEARDOWN_ASL) as workflow:
        yield *streaming, workflow


def run_teardown(workflow: LocalWorkflow, **parts) -> Execution:
    return workflow.run({"db_instance_identifier": INSTANCE, **parts})


@pytest.mark.parametrize(("part", "what"), [("drop_publication", "publication streamkap_pub"), ("drop_user", "user")])
def test_dropping_what_a_live_connector_uses_is_refused_and_nothing_changes(teardown, part, what):
    stack, connector, workflow = teardown
    pid = connector.pid
    before = everything(stack.server, "orders")

    execution = run_teardown(workflow, **{part: True})

    assert execution.status == "FAILED"
    assert execution.error == "SlotInUse"
    assert f"slot {SLOT} is being read by process {pid}" in execution.cause
    assert f"dropping {what}" in execution.cause and "force" in execution.cause
    assert everything(stack.server, "orders") == before
    assert connector.process.poll() is None and connector.pid == pid  # still streaming


def test_a_dry_run_lists_the_refusal_and_with_force_the_session_it_ends(teardown):
    stack, connector, workflow = teardown
    pid = connector.pid
    before = everything(stack.server, "orders")

    refused = run_teardown(workflow, drop_publication=True, drop_user=True, dry_run=True)
    forced = run_teardown(workflow, drop_publication=True, drop_user=True, dry_run=True, force=True)

    assert refused.status == "SUCCEEDED", refused.cause
    assert [line for line in refused.output["plan"] if line.startswith("refused")] == [
        f"refused (a real run stops here): Replication slot {SLOT} is being read by process {pid} (a connector is "
        f"streaming from it); dropping {what} would cut that connector off. Stop the connector first, or pass "
        "force to end that session and drop it"
        for what in ("publication streamkap_pub", "user streamkap_user")
    ]
    plan = forced.output["plan"]
    assert plan[:2] == [f"end the session reading slot {SLOT} (pid {pid})", "drop publication streamkap_pub"]
    assert plan.count(f"end the session reading slot {SLOT} (pid {pid})") == 1
    assert "drop role streamkap_user" in plan
    assert everything(stack.server, "orders") == before
    assert connector.process.poll() is None


@pytest.mark.parametrize(
    ("part", "removed"),
    [
        ("drop_publication", "drop publication streamkap_pub"),
        ("drop_user", "drop role streamkap_user"),
    ],
)
def test_with_force_the_connectors_session_is_ended_first(teardown, part, removed):
    stack, connector, workflow = teardown
    pid = connector.pid

    execution = run_teardown(workflow, **{part: True}, force=True)

    assert execution.status == "SUCCEEDED", execution.cause
    changes = execution.output["changes"]
    assert changes[0] == f"end the session reading slot {SLOT} (pid {pid})"
    assert removed in changes
    assert connector.ended()  # its session was terminated: pg_recvlogical --no-loop exits
    assert connector.process.returncode != 0
    assert slot_state(stack.server, "orders", SLOT)[0] is False  # the slot itself is kept, idle
