"""Start an execution and follow it through its history: the same calls for AWS and the local stack."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Result:
    arn: str
    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    output: dict[str, Any] | None
    error: str | None
    cause: str | None


def start(sfn: Any, state_machine_arn: str, execution_input: dict[str, Any], prefix: str) -> str:
    return sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=f"{prefix}-{uuid.uuid4().hex[:12]}",
        input=json.dumps(execution_input),
    )["executionArn"]


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
        events += page["events"]
    return events


def follow(sfn: Any, arn: str, poll_seconds: float = 0.5, timeout: float = 3 * 3600) -> Iterator[dict[str, Any]]:
    """History events as they happen, until the execution ends."""
    seen, deadline = 0, time.monotonic() + timeout
    while True:
        status = sfn.describe_execution(executionArn=arn)["status"]
        events = history(sfn, arn)
        yield from events[seen:]
        seen = len(events)
        if status != "RUNNING":
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {arn} still running after {timeout:.0f}s; follow it with `status`")
        time.sleep(poll_seconds)


def result(sfn: Any, arn: str) -> Result:
    described = sfn.describe_execution(executionArn=arn)
    output = json.loads(described["output"]) if described.get("output") else None
    return Result(arn, described["status"], output, described.get("error"), described.get("cause"))


def recent(sfn: Any, state_machine_arn: str, limit: int = 5) -> list[dict[str, Any]]:
    return sfn.list_executions(stateMachineArn=state_machine_arn, maxResults=limit)["executions"]


def input_of(sfn: Any, arn: str) -> dict[str, Any]:
    return json.loads(sfn.describe_execution(executionArn=arn).get("input") or "{}")


def names_target(execution_input: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether an execution's input names the wanted instance, cluster or host (and port): RDS
    identifiers and host names compare case-insensitively; an input without a port means 5432."""
    for key, value in wanted.items():
        found = execution_input.get(key) or (5432 if key == "port" else None)
        if found is None or str(found).lower() != str(value).lower():
            return False
    return True
