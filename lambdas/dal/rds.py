"""The RDS port: the few RDS API calls the workflow makes, with AWS errors mapped to ours."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from lambdas.dal.clients import client
from lambdas.shared.errors import TargetNotFound
from lambdas.shared.ownership import OWNER_TAG

# On a copy of someone else's group: the group it was copied from, which teardown attaches back.
COPIED_FROM_TAG_KEY = "rds-cdc-setup:copied-from"


def tag_dict(raw: dict[str, Any]) -> dict[str, str]:
    """DescribeDBInstances / DescribeDBClusters' TagList as a dict."""
    return {tag["Key"]: tag["Value"] for tag in raw.get("TagList") or []}


def security_group_ids(raw: dict[str, Any]) -> tuple[str, ...]:
    """VpcSecurityGroups of an instance or cluster, without those being removed."""
    return tuple(
        group["VpcSecurityGroupId"] for group in raw.get("VpcSecurityGroups") or [] if group.get("Status") != "removing"
    )


@dataclass(frozen=True)
class InstanceInfo:
    instance_id: str
    engine: str
    engine_version: str
    status: str
    parameter_group: str
    parameter_apply_status: str
    host: str | None
    port: int | None
    db_name: str | None
    master_username: str
    master_secret_arn: str | None
    replica_source: str | None
    # Aurora: the cluster; instance_id is then its writer, parameter_group the cluster parameter
    # group, parameter_apply_status the writer's DBClusterParameterGroupStatus, host the cluster
    # (writer) endpoint, master_secret_arn the cluster's MasterUserSecret.
    cluster_id: str | None = None
    # The instance's tags; Aurora: the cluster's, and writer_tags the writer instance's (its reboot
    # is authorized by the writer's own tags).
    tags: dict[str, str] = field(default_factory=dict)
    writer_tags: dict[str, str] = field(default_factory=dict)
    # RDS: AllocatedStorage and MaxAllocatedStorage (storage autoscaling's ceiling), GiB. Aurora:
    # None (its AllocatedStorage is no allocation: the cluster volume grows as needed).
    allocated_storage_gib: int | None = None
    max_allocated_storage_gib: int | None = None
    # The VPC security groups of the instance (Aurora: the cluster's), being removed ones left out; its
    # VPC and whether it has a public address (Aurora: the writer's).
    security_group_ids: tuple[str, ...] = ()
    vpc_id: str | None = None
    publicly_accessible: bool | None = None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> InstanceInfo:
        groups = raw.get("DBParameterGroups") or [{}]
        endpoint = raw.get("Endpoint") or {}
        return cls(
            instance_id=raw["DBInstanceIdentifier"],
            engine=raw.get("Engine", ""),
            engine_version=raw.get("EngineVersion", ""),
            status=raw.get("DBInstanceStatus", ""),
            parameter_group=groups[0].get("DBParameterGroupName", ""),
            parameter_apply_status=groups[0].get("ParameterApplyStatus", ""),
            host=endpoint.get("Address"),
            port=endpoint.get("Port"),
            db_name=raw.get("DBName"),
            master_username=raw.get("MasterUsername", ""),
            master_secret_arn=(raw.get("MasterUserSecret") or {}).get("SecretArn"),
            replica_source=raw.get("ReadReplicaSourceDBInstanceIdentifier"),
            tags=tag_dict(raw),
            allocated_storage_gib=raw.get("AllocatedStorage"),
            max_allocated_storage_gib=raw.get("MaxAllocatedStorage"),
            security_group_ids=security_group_ids(raw),
            vpc_id=(raw.get("DBSubnetGroup") or {}).get("VpcId"),
            publicly_accessible=raw.get("PubliclyAccessible"),
        )

    @classmethod
    def from_cluster(cls, raw: dict[str, Any], writer: dict[str, Any] | None) -> InstanceInfo:
        """An Aurora cluster and its writer instance (None: the cluster has no writer yet)."""
        member: dict[str, Any] = next((m for m in raw.get("DBClusterMembers") or [] if m.get("IsClusterWriter")), {})
        cluster_status = raw.get("Status", "")
        # The writer's status matters once the cluster is available: it is what a reboot changes.
        status = (writer or {}).get("DBInstanceStatus", "creating") if cluster_status == "available" else cluster_status
        return cls(
            instance_id=member.get("DBInstanceIdentifier", ""),
            engine=raw.get("Engine", ""),
            engine_version=raw.get("EngineVersion", ""),
            status=status,
            parameter_group=raw.get("DBClusterParameterGroup", ""),
            parameter_apply_status=member.get("DBClusterParameterGroupStatus", ""),
            host=raw.get("Endpoint"),
            port=raw.get("Port"),
            db_name=raw.get("DatabaseName"),
            master_username=raw.get("MasterUsername", ""),
            master_secret_arn=(raw.get("MasterUserSecret") or {}).get("SecretArn"),
            replica_source=raw.get("ReplicationSourceIdentifier"),
            cluster_id=raw["DBClusterIdentifier"],
            tags=tag_dict(raw),
            writer_tags=tag_dict(writer or {}),
            security_group_ids=security_group_ids(raw),
            vpc_id=((writer or {}).get("DBSubnetGroup") or {}).get("VpcId"),
            publicly_accessible=(writer or {}).get("PubliclyAccessible"),
        )


class Rds:
    def __init__(self, rds_client: Any | None = None) -> None:
        self._rds = rds_client or client("rds")

    def blue_green_databases(self, deployment_id: str) -> list[str]:
        """The ARNs of a blue/green deployment's source and target (after a switchover the target carries
        the source's old name, the source a new one); [] when the deployment is gone."""
        try:
            [found] = self._rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=deployment_id)[
                "BlueGreenDeployments"
            ]
        except ClientError as error:
            if error.response["Error"]["Code"] == "BlueGreenDeploymentNotFoundFault":
                return []
            raise
        return [arn for arn in (found.get("Source"), found.get("Target")) if arn]

    def describe_instance(self, instance_id: str, cluster_id: str | None = None) -> InstanceInfo:
        """The instance, or with `cluster_id` the Aurora cluster seen through its current writer."""
        if cluster_id:
            return self.describe_cluster(cluster_id)
        try:
            raw = self._rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]
        except ClientError as error:
            if error.response["Error"]["Code"] == "DBInstanceNotFound":
                raise TargetNotFound(
                    f"No RDS instance {instance_id!r} in this account and region; "
                    "check db_instance_identifier and the region the workflow runs in"
                ) from None
            raise
        return InstanceInfo.from_api(raw)

    def instances_with_tags(self) -> list[tuple[str, dict[str, str]]]:
        """Every instance of the account and region with its tags (DescribeDBInstances' TagList)."""
        found = []
        for page in self._rds.get_paginator("describe_db_instances").paginate():
            for raw in page["DBInstances"]:
                tags = {tag["Key"]: tag["Value"] for tag in raw.get("TagList") or []}
                found.append((raw["DBInstanceIdentifier"], tags))
        return found

    def describe_cluster(self, cluster_id: str) -> InstanceInfo:
        try:
            raw = self._rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
        except ClientError as error:
            if error.response["Error"]["Code"] in ("DBClusterNotFoundFault", "DBClusterNotFound"):
                raise TargetNotFound(
                    f"No Aurora cluster {cluster_id!r} in this account and region; "
                    "check db_cluster_identifier and the region the workflow runs in"
                ) from None
            raise
        writer_id = next(
            (m["DBInstanceIdentifier"] for m in raw.get("DBClusterMembers") or [] if m.get("IsClusterWriter")), None
        )
        writer = (
            self._rds.describe_db_instances(DBInstanceIdentifier=writer_id)["DBInstances"][0] if writer_id else None
        )
        return InstanceInfo.from_cluster(raw, writer)

    def parameter_group_family(self, group: str, *, cluster: bool = False) -> str:
        if cluster:
            raw = self._rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName=group)
            return raw["DBClusterParameterGroups"][0]["DBParameterGroupFamily"]
        raw = self._rds.describe_db_parameter_groups(DBParameterGroupName=group)
        return raw["DBParameterGroups"][0]["DBParameterGroupFamily"]

    def user_parameters(self, group: str, names: set[str], *, cluster: bool = False) -> dict[str, str]:
        """Values of `names` that the user set in the group (absent: the engine default)."""
        found: dict[str, str] = {}
        if cluster:
            pages = self._rds.get_paginator("describe_db_cluster_parameters").paginate(
                DBClusterParameterGroupName=group, Source="user"
            )
        else:
            pages = self._rds.get_paginator("describe_db_parameters").paginate(
                DBParameterGroupName=group, Source="user"
            )
        for page in pages:
            for parameter in page["Parameters"]:
                if parameter.get("ParameterName") in names and "ParameterValue" in parameter:
                    found[parameter["ParameterName"]] = parameter["ParameterValue"]
        return found

    def _describe_group(self, group: str, *, cluster: bool) -> dict[str, Any] | None:
        try:
            if cluster:
                found = self._rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName=group)
                return (found["DBClusterParameterGroups"] or [None])[0]
            return (self._rds.describe_db_parameter_groups(DBParameterGroupName=group)["DBParameterGroups"] or [None])[
                0
            ]
        except ClientError as error:
            if error.response["Error"]["Code"] in ("DBParameterGroupNotFound", "DBClusterParameterGroupNotFound"):
                return None
            raise

    def parameter_group_exists(self, group: str, *, cluster: bool = False) -> bool:
        return self._describe_group(group, cluster=cluster) is not None

    def parameter_group_tags(self, group: str, *, cluster: bool = False) -> dict[str, str] | None:
        """The group's tags (ListTagsForResource on its ARN); None: there is no such group."""
        raw = self._describe_group(group, cluster=cluster)
        if raw is None:
            return None
        arn = raw["DBClusterParameterGroupArn" if cluster else "DBParameterGroupArn"]
        return {tag["Key"]: tag["Value"] for tag in self._rds.list_tags_for_resource(ResourceName=arn)["TagList"]}

    def parameter_group_holders(self, group: str, *, cluster: bool = False) -> list[str]:
        """Every instance (or, for a cluster parameter group, every cluster) the group is attached to,
        as "instance <id>" / "cluster <id>"."""
        holders = []
        if cluster:
            for page in self._rds.get_paginator("describe_db_clusters").paginate():
                for raw in page["DBClusters"]:
                    if raw.get("DBClusterParameterGroup", "").lower() == group.lower():
                        holders.append(f"cluster {raw['DBClusterIdentifier']}")
            return holders
        for page in self._rds.get_paginator("describe_db_instances").paginate():
            for raw in page["DBInstances"]:
                names = {g.get("DBParameterGroupName", "").lower() for g in raw.get("DBParameterGroups") or []}
                if group.lower() in names:
                    holders.append(f"instance {raw['DBInstanceIdentifier']}")
        return holders

    def create_parameter_group(self, *, group: str, family: str, description: str, cluster: bool = False) -> None:
        """A new group with the owner tag: the workflow's own."""
        if cluster:
            self._rds.create_db_cluster_parameter_group(
                DBClusterParameterGroupName=group,
                DBParameterGroupFamily=family,
                Description=description,
                Tags=[OWNER_TAG],
            )
            return
        self._rds.create_db_parameter_group(
            DBParameterGroupName=group, DBParameterGroupFamily=family, Description=description, Tags=[OWNER_TAG]
        )

    def copy_parameter_group(self, *, source: str, group: str, description: str, cluster: bool = False) -> None:
        """A copy of `source` (its family and user-set values) with the owner tag and the source's name."""
        tags = [OWNER_TAG, {"Key": COPIED_FROM_TAG_KEY, "Value": source}]
        if cluster:
            self._rds.copy_db_cluster_parameter_group(
                SourceDBClusterParameterGroupIdentifier=source,
                TargetDBClusterParameterGroupIdentifier=group,
                TargetDBClusterParameterGroupDescription=description,
                Tags=tags,
            )
            return
        self._rds.copy_db_parameter_group(
            SourceDBParameterGroupIdentifier=source,
            TargetDBParameterGroupIdentifier=group,
            TargetDBParameterGroupDescription=description,
            Tags=tags,
        )

    def tag_parameter_group(self, group: str, *, cluster: bool = False) -> None:
        """Adopt: add the owner tag to an existing group."""
        raw = self._describe_group(group, cluster=cluster)
        assert raw is not None, group
        arn = raw["DBClusterParameterGroupArn" if cluster else "DBParameterGroupArn"]
        self._rds.add_tags_to_resource(ResourceName=arn, Tags=[OWNER_TAG])

    def set_parameters(self, group: str, values: dict[str, tuple[str, str]], *, cluster: bool = False) -> None:
        """values: name -> (value, apply method)."""
        parameters = [
            {"ParameterName": name, "ParameterValue": value, "ApplyMethod": method}
            for name, (value, method) in values.items()
        ]
        if cluster:
            self._rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=group, Parameters=parameters)
        else:
            self._rds.modify_db_parameter_group(DBParameterGroupName=group, Parameters=parameters)

    def attach_parameter_group(self, instance_id: str, group: str, *, cluster_id: str | None = None) -> None:
        """Attach to the instance, or with `cluster_id` attach the cluster parameter group to the cluster."""
        if cluster_id:
            self._modify(instance_id, cluster_id, DBClusterParameterGroupName=group)
        else:
            self._modify(instance_id, None, DBParameterGroupName=group)

    def set_security_groups(self, instance_id: str, group_ids: list[str], *, cluster_id: str | None = None) -> None:
        """The instance's (with `cluster_id`, the cluster's) VPC security groups become exactly `group_ids`."""
        self._modify(instance_id, cluster_id, VpcSecurityGroupIds=group_ids)

    def _modify(self, instance_id: str, cluster_id: str | None, **changes: Any) -> None:
        """ModifyDBCluster on the cluster when there is one, else ModifyDBInstance; applied now."""
        if cluster_id:
            self._rds.modify_db_cluster(DBClusterIdentifier=cluster_id, ApplyImmediately=True, **changes)
        else:
            self._rds.modify_db_instance(DBInstanceIdentifier=instance_id, ApplyImmediately=True, **changes)

    def reboot(self, instance_id: str) -> None:
        self._rds.reboot_db_instance(DBInstanceIdentifier=instance_id)
