"""The ports PublishFindings writes through: the finding metrics (CloudWatch PutMetricData, in the
check's namespace only), and the last run's findings per target, one item in the lock table under a
`check#` key (IAM allows the step those keys only), written only under a condition.

A failed condition is an answer (False: another check of the target wrote first), not an error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lambdas.dal.clients import client
from lambdas.dal.locks import CONDITION_FAILED
from lambdas.shared.names import CHECK_METRICS_NAMESPACE
from lambdas.shared.settings import environment


class FindingMetrics:
    def __init__(self, cloudwatch_client: Any | None = None) -> None:
        self._cw = cloudwatch_client or client("cloudwatch")

    def put(self, data: list[dict[str, Any]]) -> None:
        """PutMetricData takes up to 1000 values a call; a check puts one per finding kind."""
        self._cw.put_metric_data(Namespace=CHECK_METRICS_NAMESPACE, MetricData=data)


@dataclass(frozen=True)
class Recorded:
    """A target's last recorded findings: their fingerprint, and the (kind, subject) pairs where they
    fitted in the item (None: too many to keep, only the fingerprint was)."""

    fingerprint: str
    pairs: list[tuple[str, str]] | None


class FindingRecords:
    def __init__(self, dynamodb: Any | None = None, table: str | None = None) -> None:
        self._db = dynamodb or client("dynamodb")
        self._table = table or environment().lock_table_name

    def get(self, key: str) -> Recorded | None:
        item = self._db.get_item(TableName=self._table, Key={"target": {"S": key}}, ConsistentRead=True).get("Item")
        if not item:
            return None
        pairs = item.get("pairs", {}).get("L")
        return Recorded(
            fingerprint=item["fingerprint"]["S"],
            pairs=None if pairs is None else [(p["L"][0]["S"], p["L"][1]["S"]) for p in pairs],
        )

    def put(self, key: str, recorded: Recorded, *, previous: str | None, execution_arn: str, at: int) -> bool:
        """Write the target's findings if its record is still the one read (`previous`: its
        fingerprint, None where there was none): of two checks that read the same record, one writes."""
        item: dict[str, Any] = {
            "target": {"S": key},
            "fingerprint": {"S": recorded.fingerprint},
            "execution": {"S": execution_arn},
            "checked_at": {"N": str(at)},
        }
        if recorded.pairs is not None:
            item["pairs"] = {"L": [{"L": [{"S": kind}, {"S": subject}]} for kind, subject in recorded.pairs]}
        condition = "attribute_not_exists(#target)" if previous is None else "#fingerprint = :previous"
        try:
            self._db.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#target": "target"} if previous is None else {"#fingerprint": "fingerprint"},
                **({} if previous is None else {"ExpressionAttributeValues": {":previous": {"S": previous}}}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == CONDITION_FAILED:
                return False
            raise
        return True
