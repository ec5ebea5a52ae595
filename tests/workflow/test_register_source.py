"""RegisterSource and ConfirmSourceStreaming through the real state machine, against the local
stand-in of Streamkap's API (local/streamkap_api.py), whose connector is pg_recvlogical streaming
the slot: one registered source for the module, then re-runs and refusals on it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from unittest import mock

import boto3
import pytest

from lambdas.shared.names import STREAMKAP_SOURCE_TAG_KEY
from local.postgres_server import LocalPostgres
from local.streamkap_api import CLIENT_ID, CLIENT_SECRET, StreamkapStandIn
from local.workflow_runner import Execution
from tests.live_connector import slot_state
from tests.snapshots import everything
from tests.workflow.conftest import INSTANCE, Stack, make_stack

pytestmark = pytest.mark.workflow

SOURCE_NAME = f"{INSTANCE}/orders"
USER_SECRET = f"rds-cdc-setup/{INSTANCE}/streamkap_user"


@dataclass
class Registered:
    stack: Stack
    api: StreamkapStandIn
    api_input: dict
    first: Execution

    def run(self, **extra) -> Execution:
        return self.stack.run(**self.api_input, **extra)


@pytest.fixture(scope="module")
def registered() -> Iterator[Registered]:
    server = LocalPostgres(settings={"wal_level": "logical"}).init().start()
    try:
        for stack in make_stack(server):
            secret = boto3.client("secretsmanager").create_secret(
                Name="streamkap-api/local",
                SecretString=json.dumps({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
            )
            # The stand-in as this deployment's Streamkap API: the only one a run may send the password to.
            with StreamkapStandIn(server=server) as api, mock.patch.dict(os.environ, {"STREAMKAP_API_URL": api.url}):
                api_input = {"streamkap_api_secret_arn": secret["ARN"], "streamkap_api_url": api.url}
                first = stack.run(**api_input)
                yield Registered(stack, api, api_input, first)
    finally:
        server.destroy()


def test_the_source_is_registered_active_and_its_connector_advances_the_slot(registered: Registered):
    execution = registered.first
    assert execution.status == "SUCCEEDED", execution.cause
    output = execution.output
    [stored] = registered.api.sources.values()
    assert output["source"] == {
        "id": stored.id,
        "name": SOURCE_NAME,
        "connector_status": "Active",
        "changes": [f"registered Streamkap source {SOURCE_NAME} ({stored.id})"],
    }
    assert f"registered Streamkap source {SOURCE_NAME} ({stored.id})" in output["changes"]
    # The stand-in got the connector settings of the output, and the password of the user's secret.
    user = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=USER_SECRET)["SecretString"])
    assert stored.config["database.user"] == output["connector"]["username"] == user["username"]
    assert stored.config["database.password"] == user["password"]
    assert stored.config["slot.name"] == output["connector"]["replication_slot_name"]
    assert user["password"] not in json.dumps(execution.events, default=str)  # not in the state, the output, any event
    # Its connector streams the slot and confirmed it past ConfirmSourceStreaming's heartbeat.
    streaming = output["source_streaming"]
    active, pid, confirmed = slot_state(registered.stack.server, "orders", "streamkap_pgoutput_slot")
    assert active and pid
    assert registered.stack.sql(
        "SELECT CAST(:c AS pg_lsn) > CAST(:h AS pg_lsn)",
        c=streaming["confirmed_flush_lsn"],
        h=streaming["heartbeat_lsn"],
    ) == [[True]]
    assert registered.stack.sql(
        "SELECT CAST(:c AS pg_lsn) >= CAST(:h AS pg_lsn)", c=confirmed, h=streaming["heartbeat_lsn"]
    ) == [[True]]
    tags = boto3.client("secretsmanager").describe_secret(SecretId=USER_SECRET)["Tags"]
    assert {"Key": STREAMKAP_SOURCE_TAG_KEY, "Value": stored.id} in tags


def test_an_api_url_other_than_the_deployments_is_refused_at_validation_and_changes_nothing(registered: Registered):
    before = everything(registered.stack.server, "orders")
    writes = list(registered.api.writes())
    refused = registered.stack.run(**registered.api_input | {"streamkap_api_url": "https://collector.example.com/api"})
    assert (refused.status, refused.error) == ("FAILED", "InvalidInput"), refused.cause
    assert "is not this deployment's Streamkap API" in refused.cause
    assert "Preflight" not in refused.states_entered and "RegisterSource" not in refused.states_entered
    assert everything(registered.stack.server, "orders") == before and list(registered.api.writes()) == writes


def test_the_registration_steps_parse_what_they_are_given(registered: Registered):
    from tests.workflow.test_step_inputs import Seen

    seen = Seen()
    seen.check("cdc_setup.asl.json", registered.first)
    assert seen.failures == []
    assert {"RegisterSource", "ConfirmSourceStreaming"} <= seen.steps["cdc_setup.asl.json"]


def test_a_rerun_updates_nothing_and_creates_no_second_source(registered: Registered):
    writes = list(registered.api.writes())

    again = registered.run()

    assert again.status == "SUCCEEDED", again.cause
    assert again.output["changes"] == []
    assert again.output["source"]["changes"] == []
    assert again.output["source"]["connector_status"] == "Active"
    assert registered.api.writes() == writes
    assert len(registered.api.sources) == 1


@dataclass(frozen=True)
class Refusal:
    error: str
    status: int | None = None  # the stand-in answers it
    on: str | None = None
    foreign: bool = False  # the source's id is not the one recorded on the user's secret


REFUSALS = {
    "401 on the token": Refusal("StreamkapAuthFailed", 401, "POST /api/auth/access-token"),
    "409 on the update": Refusal("StreamkapConflict", 409, "PUT"),
    "500 on the update": Refusal("StreamkapApiFailed", 500, "PUT"),
    "someone else's source": Refusal("NotOwned", foreign=True),
}


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
def test_api_refusals_and_a_foreign_source_fail_by_name_and_leave_everything_as_it_was(
    registered: Registered, case: Refusal
):
    api, secrets = registered.api, boto3.client("secretsmanager")
    [stored] = api.sources.values()
    config = dict(stored.config)
    if case.on == "PUT":  # a source that differs: the run would update it
        stored.config["heartbeat.enabled"] = not stored.config["heartbeat.enabled"]
    if case.status:
        on = f"PUT /api/sources/{stored.id}" if case.on == "PUT" else case.on
        api.fail_next(case.status, "refused by the stand-in", on=on)
    if case.foreign:
        secrets.untag_resource(SecretId=USER_SECRET, TagKeys=[STREAMKAP_SOURCE_TAG_KEY])
    before, writes = everything(registered.stack.server, "orders"), list(api.writes())
    try:
        execution = registered.run()

        assert execution.error == case.error, execution.cause
        assert everything(registered.stack.server, "orders") == before
        updating = case.on == "PUT"
        # Only the refused update was tried: the stand-in's source is as it was
        assert api.writes() == writes + ([("PUT", f"/api/sources/{stored.id}")] if updating else [])
        assert stored.config == (
            {**config, "heartbeat.enabled": not config["heartbeat.enabled"]} if updating else config
        )
    finally:
        stored.config = config
        if case.foreign:
            secrets.tag_resource(SecretId=USER_SECRET, Tags=[{"Key": STREAMKAP_SOURCE_TAG_KEY, "Value": stored.id}])


def test_a_502_is_retried_by_the_state_machine_and_the_run_ends_registered(registered: Registered):
    api = registered.api
    [stored] = api.sources.values()
    config, writes = dict(stored.config), list(api.writes())
    api.fail_next(502, "bad gateway from the stand-in", on="POST /api/auth/access-token")

    execution = registered.run()

    assert execution.status == "SUCCEEDED", execution.cause
    failed = [e["lambdaFunctionFailedEventDetails"] for e in execution.events if e["type"] == "LambdaFunctionFailed"]
    assert [(f["error"], "within" not in f["cause"]) for f in failed] == [("TransientFailure", True)]
    assert execution.output["source"]["id"] == stored.id and stored.config == config and api.writes() == writes


def test_an_api_that_never_answers_in_time_is_transient_failure_after_the_retries_and_changes_nothing(
    registered: Registered,
):
    api = registered.api
    [stored] = api.sources.values()
    config, writes = dict(stored.config), list(api.writes())
    before = everything(registered.stack.server, "orders")
    for _ in range(5):  # the first attempt and the ASL's 4 retries of TransientFailure
        api.hang_next(1.0, on="POST /api/auth/access-token")
    with mock.patch.dict(os.environ, {"STREAMKAP_API_TIMEOUT_SECONDS": "0.2"}):
        execution = registered.run()

    assert (execution.status, execution.error) == ("FAILED", "TransientFailure"), execution.cause
    assert "did not answer POST /auth/access-token within 0.2s" in execution.cause
    assert everything(registered.stack.server, "orders") == before
    assert stored.config == config and api.writes() == writes
