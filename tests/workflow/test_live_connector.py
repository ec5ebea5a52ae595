"""Setup and teardown beside a live connector: pg_recvlogical (the server's own) streams the slot
as the CDC user, confirming every second, as a Streamkap connector would."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator

import boto3
import pytest

from lambdas.logic import verify as verify_module
from local.workflow_runner import Execution
from tests.live_connector import LiveConnector, live_connector, slot_state
from tests.snapshots import everything
from tests.workflow.conftest import INSTANCE, Stack

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
    """A setup made ready through the setup state machine, and a connector streaming its slot."""
    execution = stack.run()
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
