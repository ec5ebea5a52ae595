"""The RDS port: the few RDS API calls the workflow makes, with AWS errors mapped to ours."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lambdas.dal.clients import client
from lambdas.shared.errors import TargetNotFound


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
        )


class Rds:
    def __init__(self, rds_client: Any | None = None) -> None:
        self._rds = rds_client or client("rds")

    def describe_instance(self, instance_id: str) -> InstanceInfo:
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

    def parameter_group_family(self, group: str) -> str:
        raw = self._rds.describe_db_parameter_groups(DBParameterGroupName=group)
        return raw["DBParameterGroups"][0]["DBParameterGroupFamily"]

    def parameter_group_exists(self, group: str) -> bool:
        try:
            return bool(self._rds.describe_db_parameter_groups(DBParameterGroupName=group)["DBParameterGroups"])
        except ClientError as error:
            if error.response["Error"]["Code"] == "DBParameterGroupNotFound":
                return False
            raise

    def user_parameters(self, group: str, names: set[str]) -> dict[str, str]:
        """Values of `names` that the user set in the group (absent: the engine default)."""
        found: dict[str, str] = {}
        paginator = self._rds.get_paginator("describe_db_parameters")
        for page in paginator.paginate(DBParameterGroupName=group, Source="user"):
            for parameter in page["Parameters"]:
                if parameter.get("ParameterName") in names and "ParameterValue" in parameter:
                    found[parameter["ParameterName"]] = parameter["ParameterValue"]
        return found

    def create_parameter_group(self, *, group: str, family: str, description: str) -> None:
        self._rds.create_db_parameter_group(
            DBParameterGroupName=group,
            DBParameterGroupFamily=family,
            Description=description,
            Tags=[{"Key": "created-by", "Value": "rds-cdc-setup"}],
        )

    def set_parameters(self, group: str, values: dict[str, tuple[str, str]]) -> None:
        """values: name -> (value, apply method)."""
        self._rds.modify_db_parameter_group(
            DBParameterGroupName=group,
            Parameters=[
                {"ParameterName": name, "ParameterValue": value, "ApplyMethod": method}
                for name, (value, method) in values.items()
            ],
        )

    def attach_parameter_group(self, instance_id: str, group: str) -> None:
        self._rds.modify_db_instance(
            DBInstanceIdentifier=instance_id, DBParameterGroupName=group, ApplyImmediately=True
        )

    def reboot(self, instance_id: str) -> None:
        self._rds.reboot_db_instance(DBInstanceIdentifier=instance_id)
