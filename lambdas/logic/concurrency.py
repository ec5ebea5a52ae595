"""One execution per instance at a time: the earliest running execution for an instance
proceeds, any later one stops before changing anything. Deciding by start time means two
executions started together still agree on which one goes on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lambdas.shared.errors import ConcurrentExecution


@dataclass(frozen=True)
class RunningExecution:
    arn: str
    started: datetime
    instance_id: str | None


def state_machine_arn(execution_arn: str) -> str:
    """arn:aws:states:r:a:execution:Machine:name -> arn:aws:states:r:a:stateMachine:Machine"""
    prefix, _, rest = execution_arn.partition(":execution:")
    return f"{prefix}:stateMachine:{rest.rsplit(':', 1)[0]}"


def instance_of(execution_input: Any) -> str | None:
    """What an execution targets, from a console/CLI input or an RDS event: the instance id,
    "cluster:<id>" for an Aurora cluster (instance and cluster identifiers are separate namespaces),
    or "host:port/database" for self-managed PostgreSQL (what SetupInput.target_id says)."""
    if not isinstance(execution_input, dict):
        return None
    if execution_input.get("host"):  # self-managed PostgreSQL: one server may hold many databases
        port, database = execution_input.get("port") or 5432, execution_input.get("database") or "postgres"
        return f"{execution_input['host']}:{port}/{database}"
    if execution_input.get("db_cluster_identifier"):
        return f"cluster:{execution_input['db_cluster_identifier']}"
    if execution_input.get("db_instance_identifier"):
        return execution_input["db_instance_identifier"]
    detail = execution_input.get("detail") if isinstance(execution_input.get("detail"), dict) else {}
    # RDS events name their source's ARN (instance or cluster); tag-change events only in resources.
    for resource in [detail.get("SourceArn"), *(execution_input.get("resources") or [])]:
        if isinstance(resource, str) and ":db:" in resource:
            return resource.rsplit(":db:", 1)[1]
        if isinstance(resource, str) and ":cluster:" in resource:
            return f"cluster:{resource.rsplit(':cluster:', 1)[1]}"
    if detail.get("SourceIdentifier"):
        identifier = detail["SourceIdentifier"]
        return f"cluster:{identifier}" if detail.get("SourceType") == "CLUSTER" else identifier
    return None


def running_executions(sfn: Any, execution_arn: str) -> list[RunningExecution]:
    found = []
    paginator = sfn.get_paginator("list_executions")
    for page in paginator.paginate(stateMachineArn=state_machine_arn(execution_arn), statusFilter="RUNNING"):
        for item in page["executions"]:
            described = sfn.describe_execution(executionArn=item["executionArn"])
            try:
                target = instance_of(json.loads(described.get("input") or "{}"))
            except ValueError:
                target = None
            found.append(RunningExecution(item["executionArn"], item["startDate"], target))
    return found


def ensure_first(execution_arn: str, instance_id: str, running: list[RunningExecution]) -> None:
    mine = next((r for r in running if r.arn == execution_arn), None)
    if mine is None:  # not listed yet (eventual consistency): compare with everyone
        mine = RunningExecution(execution_arn, datetime.max.replace(tzinfo=None), instance_id)
    for other in running:
        if other.arn == execution_arn or other.instance_id != instance_id:
            continue
        if (_naive(other.started), other.arn) < (_naive(mine.started), mine.arn):
            raise ConcurrentExecution(
                f"Execution {other.arn.rsplit(':', 1)[-1]} is already preparing instance {instance_id}; "
                "this one stopped before changing anything. Wait for it to finish (its result will say what it did)"
            )


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None) if moment.tzinfo else moment
