"""Transient faults are named TransientFailure (retried by the ASL); permanent ones keep their names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from botocore.stub import Stubber
from pg8000.exceptions import DatabaseError

from lambdas.dal import database as database_module
from lambdas.dal.clients import client, named_errors
from lambdas.dal.database import Database
from lambdas.dal.rds import InstanceInfo, Rds
from lambdas.dal.secrets import Credentials, Secrets
from lambdas.logic.reboot import check_reboot
from lambdas.shared.errors import InsufficientPrivilege, InvalidInput, RebootTimeout, TransientFailure
from lambdas.shared.models import SetupInput

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:master-AbCdEf"
ROOT = Path(__file__).resolve().parents[2]

TRANSIENT = [
    ("ThrottlingException", 400),
    ("Throttling", 400),
    ("RequestLimitExceeded", 400),
    ("TooManyRequestsException", 429),
    ("ServiceUnavailable", 503),
    ("InternalFailure", 500),
    ("InternalServiceError", 500),
    ("SomethingNew", 502),  # any 5xx, whatever its code
]


@pytest.mark.parametrize(("code", "status"), TRANSIENT)
def test_throttling_and_aws_side_failures_reading_a_secret_are_transient(code: str, status: int):
    sm = client("secretsmanager")
    with Stubber(sm) as stub:
        stub.add_client_error("get_secret_value", service_error_code=code, http_status_code=status)
        with pytest.raises(TransientFailure, match=f"secretsmanager:GetSecretValue with {code} \\(HTTP {status}\\)"):
            Secrets(sm).credentials(SECRET)


@pytest.mark.parametrize(("code", "status"), TRANSIENT[:2])
def test_the_same_on_the_rds_port(code: str, status: int):
    rds = client("rds")
    with Stubber(rds) as stub:
        stub.add_client_error("describe_db_instances", service_error_code=code, http_status_code=status)
        with pytest.raises(TransientFailure, match="rds:DescribeDBInstances"):
            Rds(rds).describe_instance("orders-prod")


@pytest.mark.parametrize(
    ("code", "status", "named"),
    [
        ("AccessDeniedException", 400, InsufficientPrivilege),
        ("ResourceNotFoundException", 400, InvalidInput),
        ("DecryptionFailure", 400, InvalidInput),
    ],
)
def test_refusals_and_missing_secrets_are_not_transient(code: str, status: int, named: type[Exception]):
    sm = client("secretsmanager")
    with Stubber(sm) as stub:
        stub.add_client_error("get_secret_value", service_error_code=code, http_status_code=status)
        with pytest.raises(named) as raised:
            Secrets(sm).credentials(SECRET)
    assert not isinstance(raised.value, TransientFailure)


def test_a_client_without_the_hooks_still_names_throttling_on_the_secrets_port():
    sm = boto3.client("secretsmanager")
    with Stubber(sm) as stub:
        stub.add_client_error("get_secret_value", service_error_code="ThrottlingException", http_status_code=400)
        with pytest.raises(TransientFailure, match="ThrottlingException"):
            Secrets(sm).credentials(SECRET)


@pytest.mark.parametrize(
    "failure",
    [
        EndpointConnectionError(endpoint_url="https://secretsmanager.us-east-1.amazonaws.com"),
        ConnectTimeoutError(endpoint_url="https://secretsmanager.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://secretsmanager.us-east-1.amazonaws.com"),
        ConnectionClosedError(endpoint_url="https://secretsmanager.us-east-1.amazonaws.com"),
    ],
    ids=type,
)
def test_connection_failures_to_aws_are_transient(failure: Exception):
    # Given a client whose HTTP send fails (one attempt, so no retry sleeps)
    sm = named_errors(boto3.client("secretsmanager", config=Config(retries={"mode": "adaptive", "max_attempts": 1})))

    def fail(**_: Any) -> None:
        raise failure

    sm.meta.events.register("before-send", fail)
    # Then the port raises TransientFailure naming the failure, not the raw botocore error
    with pytest.raises(TransientFailure, match=type(failure).__name__):
        Secrets(sm).credentials(SECRET)


def test_clients_retry_in_adaptive_mode():
    assert client("secretsmanager").meta.config.retries["mode"] == "adaptive"
    assert client("rds").meta.config.retries["mode"] == "adaptive"


# ---- the database port ------------------------------------------------------------------------


def _failing_connection(error: Exception):
    def connection(**_: Any):
        raise error

    return connection


@pytest.mark.parametrize("message", ["the database system is starting up", "the database system is shutting down"])
def test_connecting_while_the_server_starts_or_stops_is_a_transient_not_ready(monkeypatch, message: str):
    error = DatabaseError({"S": "FATAL", "C": "57P03", "M": message})
    monkeypatch.setattr(database_module.pg8000.native, "Connection", _failing_connection(error))
    with pytest.raises(TransientFailure, match=message) as raised:
        Database.connect(host="db", port=5432, database="orders", credentials=Credentials("master", "pw"))
    assert raised.value.database_not_ready


class FailingRun:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def run(self, sql: str, **_: Any) -> Any:
        raise self.error


def test_a_server_error_without_a_name_leaves_the_port_as_server_error_not_the_drivers():
    # Given the server refusing a DROP with dependent_objects_still_exist (no named class)
    error = DatabaseError({"S": "ERROR", "C": "2BP01", "M": "role x cannot be dropped", "D": "privileges for t"})
    db = Database(FailingRun(error))  # type: ignore[arg-type]
    # Then logic gets the SQLSTATE, message and detail without importing pg8000
    with pytest.raises(
        database_module.ServerError, match=r"DROP ROLE x: role x cannot be dropped \(SQLSTATE 2BP01\)"
    ) as raised:
        db.execute("DROP ROLE x")
    assert not isinstance(raised.value, DatabaseError)
    assert (raised.value.sqlstate, raised.value.server_message, raised.value.detail) == (
        database_module.DEPENDENT_OBJECTS,
        "role x cannot be dropped",
        "privileges for t",
    )


def test_a_server_error_with_a_name_keeps_it():
    db = Database(FailingRun(DatabaseError({"S": "ERROR", "C": "42501", "M": "permission denied"})))  # type: ignore[arg-type]
    with pytest.raises(InsufficientPrivilege, match="permission denied"):
        db.execute("GRANT SELECT ON t TO r")


# ---- CheckRebootStatus: not accepting connections yet is a poll ---------------------------------


class OneInstance:
    def __init__(self, status: str = "available", apply_status: str = "in-sync") -> None:
        self.info = InstanceInfo(
            instance_id="orders-prod",
            engine="postgres",
            engine_version="16.3",
            status=status,
            parameter_group="mine",
            parameter_apply_status=apply_status,
            host="db",
            port=5432,
            db_name="orders",
            master_username="master",
            master_secret_arn=SECRET,
            replica_source=None,
        )
        self.reboots = 0

    def describe_instance(self, *_: Any) -> InstanceInfo:
        return self.info

    def reboot(self, _: str) -> None:
        self.reboots += 1


def _refused() -> str:
    raise TransientFailure("refused", database_not_ready=True)


def test_a_database_not_accepting_connections_after_the_reboot_is_not_ready_yet():
    setup = SetupInput(db_instance_identifier="orders-prod", database="orders", poll_seconds=30, max_wait_minutes=10)
    status = check_reboot(OneInstance(), setup, "orders-prod", 0, _refused)  # type: ignore[arg-type]
    assert (status.ready, status.attempt, status.status, status.wal_level) == (False, 1, "available", None)


def test_still_not_accepting_at_the_last_poll_is_a_reboot_timeout_saying_so():
    setup = SetupInput(db_instance_identifier="orders-prod", database="orders", poll_seconds=60, max_wait_minutes=1)
    with pytest.raises(RebootTimeout, match="refused"):
        check_reboot(OneInstance(), setup, "orders-prod", 0, _refused)  # type: ignore[arg-type]


def test_other_transient_failures_while_polling_are_left_to_the_asl_retry():
    def throttled() -> str:
        raise TransientFailure("throttled")

    setup = SetupInput(db_instance_identifier="orders-prod", database="orders")
    with pytest.raises(TransientFailure, match="throttled"):
        check_reboot(OneInstance(), setup, "orders-prod", 0, throttled)  # type: ignore[arg-type]


# ---- the ASL retries TransientFailure on every Lambda task --------------------------------------


def lambda_tasks(states: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, state in states.items():
        if state["Type"] == "Task" and str(state["Resource"]).endswith("FunctionArn}"):
            found.append((path + name, state))
        for branch in state.get("Branches", []):
            found += lambda_tasks(branch["States"], f"{path}{name}/")
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                found += lambda_tasks(state[key]["States"], f"{path}{name}/")
    return found


@pytest.mark.parametrize("asl", sorted((ROOT / "statemachine").glob("*.asl.json")), ids=lambda p: p.name)
def test_every_lambda_task_retries_transient_failures_with_jittered_bounded_backoff(asl: Path):
    tasks = lambda_tasks(json.loads(asl.read_text())["States"])
    assert tasks
    for name, task in tasks:
        retriers = {tuple(r["ErrorEquals"]): r for r in task.get("Retry", [])}
        assert ("Lambda.ServiceException",) in {k[:1] for k in retriers}, name  # Lambda's own still retried
        retry = retriers.get(("TransientFailure",))
        assert retry is not None, f"{asl.name}: {name} does not retry TransientFailure"
        assert retry["JitterStrategy"] == "FULL", name
        assert 2 <= retry["MaxAttempts"] <= 5, name
        delays = [
            min(retry["IntervalSeconds"] * retry.get("BackoffRate", 2.0) ** n, retry.get("MaxDelaySeconds", 1e9))
            for n in range(retry["MaxAttempts"])
        ]
        assert sum(delays) <= 120, f"{name}: up to {sum(delays)}s of backoff"


class Answers:
    def __init__(self, rows: list[list[Any]]) -> None:
        self.rows = rows

    def run(self, sql: str, **_: Any) -> Any:
        return self.rows


def test_a_query_that_always_returns_one_row_and_returns_none_is_a_bug_not_an_unpacking_error():
    assert Database(Answers([["streamkap", False]])).one("SELECT current_user, rolsuper") == ["streamkap", False]  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="SELECT current_user, rolsuper: no row from a query that always returns"):
        Database(Answers([])).one("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")  # type: ignore[arg-type]
