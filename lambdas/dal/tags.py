"""The RDS port of ReadTriggerTags: the tags of an instance or Aurora cluster, by ARN (as
EventBridge events name them), and the little it must know before an execution goes on:
is the instance an Aurora cluster member, has the cluster a writer yet."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambdas.dal.clients import client
from lambdas.shared.errors import TargetNotFound

INSTANCE_NOT_FOUND = {"DBInstanceNotFound", "DBInstanceNotFoundFault"}
CLUSTER_NOT_FOUND = {"DBClusterNotFoundFault", "DBClusterNotFound"}


class RdsTags:
    def __init__(self, rds_client: Any | None = None) -> None:
        self._rds = rds_client or client("rds")

    def tags(self, arn: str) -> dict[str, str]:
        """ListTagsForResource takes instance (`:db:`) and cluster (`:cluster:`) ARNs alike."""
        try:
            tag_list = self._rds.list_tags_for_resource(ResourceName=arn)["TagList"]
        except ClientError as error:
            if error.response["Error"]["Code"] in INSTANCE_NOT_FOUND | CLUSTER_NOT_FOUND:
                kind = "cluster" if ":cluster:" in arn else "instance"
                raise TargetNotFound(f"The {kind} {arn} of the event no longer exists") from None
            raise
        return {tag["Key"]: tag["Value"] for tag in tag_list}

    def instance_cluster(self, instance_id: str) -> str | None:
        """The DB cluster the instance is a member of (Aurora), or None for a standalone instance."""
        try:
            raw = self._rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]
        except ClientError as error:
            if error.response["Error"]["Code"] in INSTANCE_NOT_FOUND:
                raise TargetNotFound(f"The instance {instance_id} of the event no longer exists") from None
            raise
        return raw.get("DBClusterIdentifier") or None

    def cluster_has_writer(self, cluster_id: str) -> bool:
        """As DescribeTarget finds the writer: the member with IsClusterWriter."""
        try:
            raw = self._rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
        except ClientError as error:
            if error.response["Error"]["Code"] in CLUSTER_NOT_FOUND:
                raise TargetNotFound(f"The Aurora cluster {cluster_id} of the event no longer exists") from None
            raise
        return any(member.get("IsClusterWriter") for member in raw.get("DBClusterMembers") or [])
