"""Finding 6 of issue 13, through the real ASL: the input bounds come from Step Functions' 25,000-event
history limit (measured here on moto's history of a real run), and a reboot that does not apply the
parameter group is re-issued at most once per run."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from moto.rds.models import RDSBackend

from lambdas.shared.models import (
    EVENTS_PER_POLL,
    HISTORY_EVENT_BUDGET,
    HISTORY_EVENT_LIMIT,
    POLL_LOOPS,
    RUN_EVENTS,
    largest_max_wait_minutes,
    poll_count,
    worst_case_history_events,
)
from local.postgres_server import LocalPostgres
from tests.snapshots import everything
from tests.workflow.conftest import INSTANCE, Stack, make_stack

pytestmark = pytest.mark.workflow

ASL = json.loads((Path(__file__).resolve().parents[2] / "statemachine" / "cdc_setup.asl.json").read_text())
STATES = ASL["States"]


@pytest.fixture
def slow_reboot_stack(new_server: LocalPostgres) -> Iterator[Stack]:
    """The instance stays `rebooting` for three describes: the reboot loop polls four times."""
    yield from make_stack(new_server, describes_per_reboot=3)


def visits(events: list[dict]) -> list[tuple[str, int]]:
    """(state name, history events from its entry to its exit, both included), in order."""
    found, current, count = [], None, 0
    for event in events:
        if event["type"].endswith("StateEntered"):
            current, count = event["stateEnteredEventDetails"]["name"], 0
        if current is not None:
            count += 1
        if event["type"].endswith("StateExited"):
            found.append((current, count))
            current = None
    return found


def successors(name: str) -> list[str]:
    state = STATES[name]
    nexts = [state.get("Next"), state.get("Default")]
    nexts += [choice["Next"] for choice in state.get("Choices", [])]
    nexts += [catch["Next"] for catch in state.get("Catch", [])]
    return [n for n in dict.fromkeys(nexts) if n]


def poll_cycles() -> list[list[str]]:
    """Every loop of the ASL, as the states it passes from its Wait state back to it."""
    cycles = []

    def walk(path: list[str]) -> None:
        for following in successors(path[-1]):
            if following == path[0]:
                cycles.append(path)
            elif following not in path:
                walk([*path, following])

    for name, state in STATES.items():
        if state["Type"] == "Wait":
            walk([name])
    return cycles


def longest_loop_free_path(cost: dict[str, int]) -> int:
    """The most history events a run costs outside its loops: every path from StartAt with the loops'
    Wait states as dead ends (their polls are counted per loop), Execution started and ended included."""
    looping = {cycle[0] for cycle in poll_cycles()}

    def longest(name: str, seen: frozenset[str]) -> int:
        state = STATES[name]
        own = cost[state["Type"]]
        if name in looping:
            return own
        after = [longest(n, seen | {name}) for n in successors(name) if n not in seen]
        return own + max(after, default=0)

    return 2 + longest(ASL["StartAt"], frozenset())


def test_a_poll_costs_the_measured_events_and_every_loop_of_the_asl_the_same(slow_reboot_stack):
    execution = slow_reboot_stack.run()
    assert execution.status == "SUCCEEDED", execution.cause

    # Measured on the history: WaitForReboot entered every EVENTS_PER_POLL events
    entries = [
        i
        for i, e in enumerate(execution.events)
        if e["type"] == "WaitStateEntered" and e["stateEnteredEventDetails"]["name"] == "WaitForReboot"
    ]
    assert len(entries) >= 3
    assert {b - a for a, b in itertools.pairwise(entries)} == {EVENTS_PER_POLL}

    # What each kind of state costs, measured: the same for every visit of a kind
    by_type: dict[str, set[int]] = {}
    for name, count in visits(execution.events):
        by_type.setdefault(STATES[name]["Type"], set()).add(count)
    assert all(len(counts) == 1 for counts in by_type.values()), by_type
    cost = {kind: counts.pop() for kind, counts in by_type.items()}
    assert cost["Task"] == 5  # entered, LambdaFunctionScheduled, Started, Succeeded, exited
    cost.setdefault("Pass", cost["Choice"])  # entered and exited, as a Choice
    cost["Fail"] = 2  # FailStateEntered, then the execution's end (counted apart): generous

    # Every loop of the ASL (Wait -> Task -> Choice -> Wait) costs EVENTS_PER_POLL; there are POLL_LOOPS
    cycles = poll_cycles()
    assert sorted(cycle[0] for cycle in cycles) == ["WaitForClusterWriter", "WaitForReboot", "WaitForTarget"]
    assert len(cycles) == POLL_LOOPS
    for cycle in cycles:
        assert sum(cost[STATES[name]["Type"]] for name in cycle) == EVENTS_PER_POLL, cycle

    # The rest of the run fits RUN_EVENTS
    rest = longest_loop_free_path(cost)
    assert rest <= RUN_EVENTS, f"the loop-free part of the ASL costs up to {rest} events; raise RUN_EVENTS"

    # At the boundary the validator allows, the worst case computed from the ASL fits, with the margin
    for poll_seconds in (1, 5, 30, 60):
        largest = largest_max_wait_minutes(poll_seconds)
        polls = poll_count(poll_seconds, largest)
        worst = rest + sum((polls + 1) * EVENTS_PER_POLL for _ in cycles)
        assert worst <= worst_case_history_events(poll_seconds, largest) <= HISTORY_EVENT_BUDGET
        assert HISTORY_EVENT_BUDGET <= HISTORY_EVENT_LIMIT * 0.8


def test_a_wait_past_the_history_limit_is_refused_by_name_and_changes_nothing(stack):
    largest = largest_max_wait_minutes(1)
    before = everything(stack.server, "orders")

    refused = stack.run(poll_seconds=1, max_wait_minutes=largest + 1)

    assert refused.status == "FAILED"
    assert refused.error == "InvalidInput"
    assert f"poll_seconds 1 with max_wait_minutes {largest + 1}" in refused.cause
    assert f"max_wait_minutes is at most {largest}" in refused.cause
    assert "ValidateInput" in refused.states_entered and "AcquireLock" not in refused.states_entered
    assert everything(stack.server, "orders") == before

    accepted = stack.run(poll_seconds=1, max_wait_minutes=largest, dry_run=True)
    assert accepted.status == "SUCCEEDED", accepted.cause
    assert accepted.output["status"] == "DryRun"


def test_a_reboot_that_leaves_the_group_pending_is_reissued_once_then_waited_for_with_the_reason(stack):
    # Given an instance whose reboots never apply the group (it stays pending-reboot)
    emulated_reboot = RDSBackend.reboot_db_instance

    def reboot_without_effect(backend: RDSBackend, db_instance_identifier: str):
        database = emulated_reboot(backend, db_instance_identifier)
        stack.instance.pending_reboot = True
        return database

    with mock.patch.object(RDSBackend, "reboot_db_instance", reboot_without_effect):
        execution = stack.run(poll_seconds=5, max_wait_minutes=1)  # 12 polls

    # Then: RebootInstance's reboot and one extra, never one per poll; the run times out saying why
    assert stack.instance.reboots == 2
    assert stack.instance.calls.count("RebootDBInstance") == 2
    assert execution.status == "FAILED" and execution.error == "RebootTimeout"
    assert "not rebooting it again (at most one extra reboot per run)" in execution.cause
    outputs = [
        json.loads(e["stateExitedEventDetails"]["output"])
        for e in execution.events
        if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "CheckRebootStatus"
    ]
    statuses = {o["reboot_status"]["attempt"]: o["reboot_status"] for o in outputs if "error" not in o}
    assert sorted(statuses) == list(range(1, 12))  # the twelfth poll raised RebootTimeout
    reboots = [statuses[attempt]["reboots"] for attempt in sorted(statuses)]
    assert reboots == sorted(reboots) and reboots[-1] == 1  # the checks issued one reboot in all
    waiting = [s for s in statuses.values() if s["waiting_because"]]
    assert len(waiting) >= 5 and all("2 reboots in this run" in s["waiting_because"] for s in waiting)
    assert stack.describe()["DBInstanceIdentifier"] == INSTANCE
