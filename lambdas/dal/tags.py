"""The RDS tags port: an instance's tags, by ARN (as EventBridge events name it)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambdas.dal.clients import client
from lambdas.shared.errors import TargetNotFound


class RdsTags:
    def __init__(self, rds_client: Any | None = None) -> None:
        self._rds = rds_client or client("rds")

    def tags(self, arn: str) -> dict[str, str]:
        try:
            tag_list = self._rds.list_tags_for_resource(ResourceName=arn)["TagList"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "DBInstanceNotFound":
                raise TargetNotFound(f"The instance {arn} of the event no longer exists") from None
            raise
        return {tag["Key"]: tag["Value"] for tag in tag_list}
