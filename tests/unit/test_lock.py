"""The per-target lock (issue 13, finding 5): its key, taking, releasing and taking over, on
moto's DynamoDB (conditional writes as DynamoDB evaluates them), and its lease against the ASL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from lambdas.dal.clients import named_errors
from lambdas.dal.locks import Executions, Lease, Locks
from lambdas.logic.lock import acquire, lease_seconds, release, target_key
from lambdas.shared import settings
from lambdas.shared.errors import ConcurrentExecution, TransientFailure
from lambdas.shared.models import SetupInput, poll_count
from lambdas.shared.teardown_models import TeardownInput
from local.workflow_runner import create_lock_table

ROOT = Path(__file__).resolve().parents[2]
TABLE = "rds-cdc-setup-locks"
ARN = "arn:aws:states:us-east-1:123456789012:execution:rds-cdc-setup:"
FIRST, SECOND, THIRD = ARN + "first", ARN + "second", ARN + "third"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:m-AbCdEf"
NOW = 1_800_000_000


def instance(identifier: str) -> SetupInput:
    return SetupInput(db_instance_identifier=identifier)


def cluster(identifier: str) -> SetupInput:
    return SetupInput(db_cluster_identifier=identifier)


def server(host: str, port: int | None = None, database: str | None = None) -> SetupInput:
    return SetupInput(host=host, port=port, database=database, master_secret_arn=SECRET)


# ---- the key: one per instance, cluster or server, whatever the spelling --------------------------


def test_instance_identifiers_differing_in_case_are_one_target():
    assert target_key(instance("DB1")) == target_key(instance("db1")) == "instance:db1"


def test_cluster_identifiers_differing_in_case_are_one_target():
    assert target_key(cluster("Orders-Cluster")) == target_key(cluster("orders-cluster")) == "cluster:orders-cluster"


def test_an_instance_and_a_cluster_of_the_same_name_are_different_targets():
    assert target_key(instance("orders")) != target_key(cluster("orders"))


def test_host_names_differing_in_case_are_one_server():
    assert target_key(server("PG.Example.COM")) == target_key(server("pg.example.com")) == "server:pg.example.com:5432"


def test_a_host_name_with_the_roots_trailing_dot_is_the_same_server():
    # The input refuses the trailing dot today; the key would not tell the two apart if it did not.
    with pytest.raises(ValueError, match="not a host name"):
        server("pg.example.com.")
    dotted = SetupInput.model_construct(host="pg.example.com.", port=None, db_cluster_identifier=None)
    assert target_key(dotted) == target_key(server("pg.example.com"))


def test_the_default_port_is_the_explicit_5432_and_another_port_is_another_server():
    assert target_key(server("pg.example.com", 5432)) == target_key(server("pg.example.com"))
    assert target_key(server("pg.example.com", 5433)) == "server:pg.example.com:5433"


def test_two_databases_of_one_server_share_its_lock():
    # roles are server-wide: two setups on one server would race on the same role
    assert target_key(server("pg.example.com", database="a")) == target_key(server("pg.example.com", database="b"))


@pytest.mark.parametrize(
    "target",
    [
        {"db_instance_identifier": "Orders-Prod"},
        {"db_cluster_identifier": "Orders-Aurora"},
        {"host": "PG.example.com", "port": 5433, "database": "x", "master_secret_arn": SECRET},
    ],
)
def test_teardown_takes_the_lock_setup_takes(target: dict[str, Any]):
    teardown = TeardownInput(**target, drop_slot=True)
    assert target_key(teardown.setup_input()) == target_key(SetupInput(**target))


# ---- taking and releasing, on DynamoDB's conditions -----------------------------------------------


class Statuses:
    """Which executions run (ExecutionStatus port)."""

    def __init__(self, *running: str) -> None:
        self.running_arns = set(running)

    def running(self, execution_arn: str) -> bool:
        return execution_arn in self.running_arns


@pytest.fixture
def locks() -> Iterator[Locks]:
    with mock_aws():
        create_lock_table(TABLE)
        yield Locks(boto3.client("dynamodb"), TABLE)


def take(locks: Locks, holder: str, statuses: Statuses, *, now: int = NOW, lease: int = 3600, target="instance:db1"):
    return acquire(locks, statuses, target=target, holder=holder, operation="setup", now=now, lease_seconds=lease)


def test_the_first_execution_takes_the_lock_with_its_lease(locks: Locks):
    lease = take(locks, FIRST, Statuses(FIRST))
    assert locks.get("instance:db1") == Lease("instance:db1", FIRST, "setup", NOW, NOW + 3600) == lease


def test_taking_it_again_in_the_same_execution_is_idempotent(locks: Locks):
    take(locks, FIRST, Statuses(FIRST))
    again = take(locks, FIRST, Statuses(FIRST), now=NOW + 10)
    assert locks.get("instance:db1") == again and again.holder == FIRST


def test_a_second_execution_stops_naming_the_holder_and_the_lock_stays_the_holders(locks: Locks):
    take(locks, FIRST, Statuses(FIRST))
    before = locks.get("instance:db1")
    with pytest.raises(ConcurrentExecution, match=r"Execution first \(setup\) is already working on instance:db1"):
        take(locks, SECOND, Statuses(FIRST, SECOND), now=NOW + 5)
    assert locks.get("instance:db1") == before


def test_the_loser_releasing_on_its_failure_path_leaves_the_holders_lock(locks: Locks):
    take(locks, FIRST, Statuses(FIRST))
    with pytest.raises(ConcurrentExecution):
        take(locks, SECOND, Statuses(FIRST, SECOND))
    assert release(locks, target="instance:db1", holder=SECOND) is False
    assert locks.get("instance:db1").holder == FIRST  # type: ignore[union-attr]


def test_release_frees_it_for_the_next_and_is_idempotent(locks: Locks):
    take(locks, FIRST, Statuses(FIRST))
    assert release(locks, target="instance:db1", holder=FIRST) is True
    assert release(locks, target="instance:db1", holder=FIRST) is False  # a re-run of the release step
    assert locks.get("instance:db1") is None
    assert take(locks, SECOND, Statuses(FIRST, SECOND)).holder == SECOND


def test_other_targets_are_not_held(locks: Locks):
    take(locks, FIRST, Statuses(FIRST))
    assert take(locks, SECOND, Statuses(FIRST, SECOND), target="instance:db2").holder == SECOND


def test_a_lock_whose_holder_no_longer_runs_is_taken_over(locks: Locks):
    take(locks, FIRST, Statuses(FIRST))  # then FIRST was aborted: no Catch, no release
    lease = take(locks, SECOND, Statuses(SECOND), now=NOW + 5)
    assert locks.get("instance:db1") == lease and lease.holder == SECOND


def test_a_running_holders_lock_is_not_taken_over_before_it_expires(locks: Locks):
    take(locks, FIRST, Statuses(FIRST), lease=100)
    with pytest.raises(ConcurrentExecution):
        take(locks, SECOND, Statuses(FIRST, SECOND), now=NOW + 99)
    assert locks.get("instance:db1").holder == FIRST  # type: ignore[union-attr]


def test_an_expired_lock_is_taken_over_even_if_its_holder_seems_to_run(locks: Locks):
    take(locks, FIRST, Statuses(FIRST), lease=100)
    lease = take(locks, SECOND, Statuses(FIRST, SECOND), now=NOW + 101)
    assert locks.get("instance:db1") == lease and lease.holder == SECOND


def test_of_two_executions_taking_over_the_same_stale_lock_only_one_wins(locks: Locks):
    take(locks, FIRST, Statuses(FIRST))
    second = Lease("instance:db1", SECOND, "setup", NOW, NOW + 60)
    third = Lease("instance:db1", THIRD, "teardown", NOW, NOW + 60)
    # both read FIRST as the holder, then write on that condition
    assert locks.take_over(second, FIRST) is True
    assert locks.take_over(third, FIRST) is False
    assert locks.get("instance:db1") == second


def test_a_takeover_race_lost_ends_in_concurrent_execution_naming_the_winner(locks: Locks):
    take(locks, FIRST, Statuses(FIRST))

    class Racing(Statuses):
        """THIRD takes over the stale lock just after SECOND read it."""

        def running(self, execution_arn: str) -> bool:
            if execution_arn == FIRST:
                locks.take_over(Lease("instance:db1", THIRD, "teardown", NOW, NOW + 60), FIRST)
                return False
            return execution_arn == THIRD

    with pytest.raises(ConcurrentExecution, match=r"third \(teardown\)"):
        take(locks, SECOND, Racing())
    assert locks.get("instance:db1").holder == THIRD  # type: ignore[union-attr]


def test_an_execution_that_does_not_exist_does_not_run():
    with mock_aws():
        assert Executions(boto3.client("stepfunctions")).running(ARN + "gone") is False


@pytest.mark.parametrize(("code", "status"), [("ThrottlingException", 400), ("InternalServerError", 500)])
def test_dynamodb_throttling_and_5xx_are_transient(code: str, status: int):
    dynamodb = named_errors(boto3.client("dynamodb"))
    with Stubber(dynamodb) as stub:
        stub.add_client_error("put_item", service_error_code=code, http_status_code=status)
        with pytest.raises(TransientFailure, match=f"dynamodb:PutItem with {code}"):
            Locks(dynamodb, TABLE).put_unless_held(Lease("instance:db1", FIRST, "setup", NOW, NOW + 1), NOW)


# ---- the lease outlasts the holder's longest run ---------------------------------------------------


def asl(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "statemachine" / name).read_text())["States"]


def reachable(states: dict[str, Any], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        state = states[name]
        todo += [n for n in (state.get("Next"), state.get("Default")) if n]
        todo += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
    return seen


@pytest.mark.parametrize(
    ("name", "acquire_state"), [("cdc_setup.asl.json", "AcquireLock"), ("cdc_teardown.asl.json", "AcquireTeardownLock")]
)
def test_the_lease_counts_every_task_and_poll_loop_under_the_lock(name: str, acquire_state: str):
    states = asl(name)
    locked = reachable(states, acquire_state)
    tasks = [n for n in locked if states[n]["Type"] == "Task"]
    assert len(tasks) + 1 <= settings.LOCKED_TASK_RUNS  # + 1: the release may run twice
    waits = [n for n in locked if states[n]["Type"] == "Wait"]
    assert len(waits) == (settings.LOCKED_POLL_LOOPS if "setup" in name else 0), waits
    for task in tasks:
        retriers = states[task]["Retry"]
        assert 1 + sum(r["MaxAttempts"] for r in retriers) <= settings.TASK_ATTEMPTS, task
        waited = sum(
            min(r["IntervalSeconds"] * r.get("BackoffRate", 2.0) ** n, r.get("MaxDelaySeconds", 1e9))
            for r in retriers
            for n in range(r["MaxAttempts"])
        )
        assert waited <= settings.TASK_RETRY_WAIT_SECONDS, task


def test_a_setup_lease_covers_its_poll_loops_at_their_limit():
    setup = SetupInput(db_instance_identifier="db1", poll_seconds=30, max_wait_minutes=60)
    polls = poll_count(30, 60)
    loops = settings.LOCKED_POLL_LOOPS * polls * (30 + settings.LONGEST_TASK_SECONDS)
    assert lease_seconds(setup, "setup") >= loops + settings.LOCKED_TASK_RUNS * settings.LONGEST_TASK_SECONDS
    longer = SetupInput(db_instance_identifier="db1", poll_seconds=30, max_wait_minutes=120)
    assert lease_seconds(longer, "setup") > lease_seconds(setup, "setup") > lease_seconds(setup, "teardown")
    assert lease_seconds(setup, "teardown") == settings.LOCKED_TASK_RUNS * settings.LONGEST_TASK_SECONDS


def test_the_longest_task_is_a_data_plane_task_with_every_attempt():
    slowest = max(settings.DATA_PLANE_LAMBDA_TIMEOUT_SECONDS, settings.CONTROL_PLANE_LAMBDA_TIMEOUT_SECONDS)
    assert settings.TASK_ATTEMPTS * slowest <= settings.LONGEST_TASK_SECONDS
