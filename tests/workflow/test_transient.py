"""Transient faults during a run: the database not accepting connections right after its reboot
is a poll, not a failure (issue 13, finding 2)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from local.postgres_server import LocalPostgres
from tests.workflow.conftest import Stack, make_stack

pytestmark = pytest.mark.workflow


@pytest.fixture
def stack(new_server: LocalPostgres) -> Iterator[Stack]:
    """RDS reports the instance available at once after the reboot (describes_per_reboot=0)."""
    yield from make_stack(new_server, describes_per_reboot=0)


def test_a_database_not_up_yet_at_the_first_poll_after_the_reboot_is_polled_again(stack: Stack):
    polls_while_down: list[str] = []

    def server_down_for_the_first_poll(function_name: str) -> None:
        if function_name.endswith("-RebootInstance"):
            stack.server.stop()  # PostgreSQL still starting: nothing listens on the port yet
        elif function_name.endswith("-CheckRebootStatus") and not polls_while_down:
            polls_while_down.append(function_name)
            stack.server.start()

    stack.workflow.after_step = server_down_for_the_first_poll
    # When the run polls while the server refuses connections
    execution = stack.run()

    # Then that poll says "not ready yet" and the next one finds it ready: the run ends Ready.
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["status"] == "Ready"
    assert polls_while_down and stack.instance.reboots == 1
    polls = [
        json.loads(event["stateExitedEventDetails"]["output"])["reboot_status"]
        for event in execution.events
        if event.get("stateExitedEventDetails", {}).get("name") == "CheckRebootStatus"
    ]
    assert len(polls) == 2
    assert (polls[0]["ready"], polls[0]["status"], polls[0]["wal_level"]) == (False, "available", None)
    assert (polls[1]["ready"], polls[1]["wal_level"]) == (True, "logical")
