"""The lock port: one DynamoDB item per target (infra/target_lock.py), written only under a
condition, so that of two executions writing at once exactly one wins; and the Step Functions
port that says whether a lock's holder still runs.

Throttling, 5xx and connection failures become TransientFailure in lambdas/dal/clients.py; a
failed condition is an answer here (False), not an error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lambdas.dal.clients import client
from lambdas.shared.settings import environment

CONDITION_FAILED = "ConditionalCheckFailedException"
NO_EXECUTION = {"ExecutionDoesNotExist", "InvalidArn"}


@dataclass(frozen=True)
class Lease:
    target: str  # lambdas.logic.lock.target_key
    holder: str  # the execution ARN
    operation: str  # setup | teardown
    acquired_at: int  # epoch seconds
    expires_at: int  # epoch seconds; also the table's TTL attribute

    def item(self) -> dict[str, Any]:
        return {
            "target": {"S": self.target},
            "holder": {"S": self.holder},
            "operation": {"S": self.operation},
            "acquired_at": {"N": str(self.acquired_at)},
            "expires_at": {"N": str(self.expires_at)},
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Lease:
        return cls(
            target=item["target"]["S"],
            holder=item.get("holder", {}).get("S", ""),
            operation=item.get("operation", {}).get("S", "?"),
            acquired_at=int(item.get("acquired_at", {}).get("N", "0")),
            expires_at=int(item.get("expires_at", {}).get("N", "0")),
        )


class Locks:
    def __init__(self, dynamodb: Any | None = None, table: str | None = None) -> None:
        self._db = dynamodb or client("dynamodb")
        self._table = table or environment().lock_table_name

    def _put(self, lease: Lease, condition: str, values: dict[str, Any]) -> bool:
        try:
            self._db.put_item(
                TableName=self._table,
                Item=lease.item(),
                ConditionExpression=condition,
                ExpressionAttributeNames=_names(condition),
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == CONDITION_FAILED:
                return False
            raise
        return True

    def put_unless_held(self, lease: Lease, now: int) -> bool:
        """Write the lease if nobody holds the target, its holder is this lease's (a re-run of the
        step), or the held lease has expired."""
        return self._put(
            lease,
            "attribute_not_exists(#target) OR #holder = :me OR #expires_at < :now",
            {":me": {"S": lease.holder}, ":now": {"N": str(now)}},
        )

    def take_over(self, lease: Lease, previous_holder: str) -> bool:
        """Write the lease only if `previous_holder` still holds the target: of two executions
        taking over the same stale lease, one wins."""
        return self._put(lease, "#holder = :previous", {":previous": {"S": previous_holder}})

    def get(self, target: str) -> Lease | None:
        item = self._db.get_item(TableName=self._table, Key={"target": {"S": target}}, ConsistentRead=True).get("Item")
        return Lease.from_item(item) if item else None

    def release(self, target: str, holder: str) -> bool:
        """Delete the lease only if `holder` holds it: never another execution's. False: not held
        by `holder` (already released, or never taken)."""
        try:
            self._db.delete_item(
                TableName=self._table,
                Key={"target": {"S": target}},
                ConditionExpression="#holder = :me",
                ExpressionAttributeNames={"#holder": "holder"},
                ExpressionAttributeValues={":me": {"S": holder}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == CONDITION_FAILED:
                return False
            raise
        return True


def _names(condition: str) -> dict[str, str]:
    """Every attribute a condition names, aliased (#name): no clash with DynamoDB's reserved words."""
    return {f"#{name}": name for name in ("target", "holder", "expires_at") if f"#{name}" in condition}


class Executions:
    def __init__(self, sfn: Any | None = None) -> None:
        self._sfn = sfn or client("stepfunctions")

    def running(self, execution_arn: str) -> bool:
        """Whether the execution still runs; one that does not exist (or no execution ARN) does not."""
        try:
            return self._sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
        except ClientError as error:
            if error.response["Error"]["Code"] in NO_EXECUTION:
                return False
            raise
