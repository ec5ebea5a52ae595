"""What moto's RDS does not model, added on top of it for local runs and tests:

- default parameter groups cannot be modified (InvalidParameterValue, as AWS says);
- static parameters cannot be applied `immediate`; once changed they, and a newly attached
  group, leave the instance `pending-reboot` until it reboots;
- RebootDBInstance needs an available instance, goes `rebooting` -> `available`, and
  restarts the local PostgreSQL with the group's settings (rds.logical_replication -> wal_level);
- dynamic parameters (wal_sender_timeout) reach the server at once, by a reload;
- the endpoint and the MasterUserSecret point at the local server and its real credentials;
- DescribeDBParameterGroups of a group that does not exist is DBParameterGroupNotFound (moto
  returns an empty list);
- instances (and Aurora writers) live in a DB subnet group of the default VPC, as every RDS instance
  does (DescribeDBInstances' DBSubnetGroup.VpcId: where allow_cidrs' security group goes), publicly
  accessible or not as added;
- DeleteSecurityGroup of a group an instance or cluster still uses is DependencyViolation (moto's EC2
  knows no RDS network interfaces and deletes it). CopyDBParameterGroup / CopyDBClusterParameterGroup (user-set values
  and the request's tags) and ListTagsForResource on parameter groups are moto's own, as AWS does.

Aurora PostgreSQL (`add_cluster`): a cluster with one writer instance on the local server (or
none yet, as a new cluster is when RDS-EVENT-0170 comes; `add_writer` adds it later); the
same rules for cluster parameter groups (default.* not modifiable, static changes and a newly
attached group leave the writer's DBClusterParameterGroupStatus `pending-reboot`), the cluster
endpoint and the cluster's MasterUserSecret point at the local server; rebooting the writer
restarts it.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3

# Instances sit in the default VPC, so every mock account builds moto's EC2 backend: without this it also
# loads moto's catalogue of AMIs, with an EBS volume and snapshot each (0.2 s per backend, ~10 % of a
# workflow test). Nothing here asks for an image. Read when the backend is built, so set at import.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
from moto.ec2.exceptions import DependencyViolationError
from moto.ec2.models.security_groups import SecurityGroupBackend
from moto.rds.exceptions import DBParameterGroupNotFoundError, RDSClientError
from moto.rds.models import DBCluster, DBInstance, RDSBackend, rds_backends

from local.postgres_server import LocalPostgres

STATIC_PARAMETERS = {
    "rds.logical_replication",
    "shared_preload_libraries",
    "max_replication_slots",
    "max_wal_senders",
    "max_worker_processes",
    "wal_level",
}


def server_settings(parameters: dict[str, dict[str, Any]]) -> dict[str, str]:
    """A parameter group's values as PostgreSQL settings."""
    settings = {}
    for name, parameter in parameters.items():
        value = parameter.get("ParameterValue")
        if value is None:
            continue
        if name == "rds.logical_replication":
            settings["wal_level"] = "logical" if value == "1" else "replica"
        elif not name.startswith("rds."):
            settings[name] = value
    return settings


def property_getter(cls: type, name: str) -> Callable[[Any], Any]:
    """The getter of a moto model's property, to call from its patched replacement."""
    found = inspect.getattr_static(cls, name)
    if not isinstance(found, property) or found.fget is None:
        raise TypeError(f"moto's {cls.__name__}.{name} is no longer a property: the RDS emulator needs updating")
    return found.fget


@dataclass
class EmulatedInstance:
    server: LocalPostgres
    pending_reboot: bool = False
    reboots: int = 0
    describes_until_available: int = 0
    calls: list[str] = field(default_factory=list)  # mutating RDS calls, in order
    cluster_id: str | None = None  # Aurora: this instance is the writer of that cluster (lower case)

    def group_changed(self, call: str, group_parameters: dict[str, dict[str, Any]], *, needs_reboot: bool) -> None:
        """Its parameter group changed or another was attached: dynamic settings now (a reload),
        static ones at the next reboot."""
        self.calls.append(call)
        self.pending_reboot |= needs_reboot
        self.server.apply(**server_settings(group_parameters))


class RdsEmulator:
    """Patch moto's RDS backend while entered. One emulator per test/demo run."""

    def __init__(self, *, describes_per_reboot: int = 1) -> None:
        self.instances: dict[str, EmulatedInstance] = {}
        self.clusters: dict[str, EmulatedInstance] = {}  # cluster id (lower case) -> its writer
        self.describes_per_reboot = describes_per_reboot
        self._stack = ExitStack()

    # ---- set-up -------------------------------------------------------------------------

    def add_instance(
        self,
        *,
        instance_id: str,
        server: LocalPostgres,
        db_name: str = "postgres",
        engine_version: str = "15.4",
        parameter_group: str | None = None,
        rds_client: Any,
        secrets_client: Any,
        engine: str = "postgres",
        allocated_storage: int = 20,
        max_allocated_storage: int | None = None,
        publicly_accessible: bool = False,
    ) -> EmulatedInstance:
        """`allocated_storage` / `max_allocated_storage`: AllocatedStorage and (storage autoscaling)
        MaxAllocatedStorage in GiB, as DescribeDBInstances reports them."""
        kwargs: dict[str, Any] = dict(
            DBInstanceIdentifier=instance_id,
            Engine=engine,
            EngineVersion=engine_version,
            DBInstanceClass="db.t4g.micro",
            AllocatedStorage=allocated_storage,
            MasterUsername=server.master_user,
            ManageMasterUserPassword=True,
            Port=server.port,
            DBName=db_name,
            DBSubnetGroupName=self.subnet_group(rds_client),
            PubliclyAccessible=publicly_accessible,
        )
        if parameter_group:
            kwargs["DBParameterGroupName"] = parameter_group
        if max_allocated_storage:
            kwargs["MaxAllocatedStorage"] = max_allocated_storage
        raw = rds_client.create_db_instance(**kwargs)["DBInstance"]
        secret_arn = raw["MasterUserSecret"]["SecretArn"]
        secrets_client.put_secret_value(
            SecretId=secret_arn,
            SecretString=json.dumps({"username": server.master_user, "password": server.master_password}),
        )
        emulated = EmulatedInstance(server=server)
        self.instances[instance_id] = emulated
        return emulated

    def add_cluster(
        self,
        *,
        cluster_id: str,
        writer_id: str | None,
        server: LocalPostgres,
        db_name: str = "postgres",
        engine_version: str = "15.4",
        cluster_parameter_group: str | None = None,
        rds_client: Any,
        secrets_client: Any,
        tags: dict[str, str] | None = None,
    ) -> EmulatedInstance:
        """An Aurora PostgreSQL cluster whose writer is the local server. Without a group, the
        cluster uses default.aurora-postgresql<major>, which exists in every account (made here).
        `writer_id` None: the cluster as RDS-EVENT-0170 finds it, without a writer yet; `add_writer` adds it."""
        major = engine_version.partition(".")[0]
        family = f"aurora-postgresql{major}"
        if cluster_parameter_group is None:
            cluster_parameter_group = f"default.{family}"
            existing = rds_client.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
            if cluster_parameter_group not in {g["DBClusterParameterGroupName"] for g in existing}:
                rds_client.create_db_cluster_parameter_group(
                    DBClusterParameterGroupName=cluster_parameter_group,
                    DBParameterGroupFamily=family,
                    Description=f"Default cluster parameter group for {family}",
                )
        raw = rds_client.create_db_cluster(
            DBClusterIdentifier=cluster_id,
            Engine="aurora-postgresql",
            EngineVersion=engine_version,
            MasterUsername=server.master_user,
            ManageMasterUserPassword=True,
            Port=server.port,
            DatabaseName=db_name,
            DBClusterParameterGroupName=cluster_parameter_group,
            DBSubnetGroupName=self.subnet_group(rds_client),
            VpcSecurityGroupIds=[self.default_security_group(rds_client)],  # as RDS attaches when given none
            Tags=[{"Key": key, "Value": value} for key, value in (tags or {}).items()],
        )["DBCluster"]
        secrets_client.put_secret_value(
            SecretId=raw["MasterUserSecret"]["SecretArn"],
            SecretString=json.dumps({"username": server.master_user, "password": server.master_password}),
        )
        emulated = EmulatedInstance(server=server, cluster_id=cluster_id.lower())
        if writer_id:
            self.add_writer(emulated, writer_id=writer_id, rds_client=rds_client)
        return emulated

    def add_writer(self, cluster: EmulatedInstance, *, writer_id: str, rds_client: Any) -> None:
        """The cluster's writer instance, on the cluster's local server."""
        assert cluster.cluster_id is not None
        rds_client.create_db_instance(
            DBInstanceIdentifier=writer_id,
            DBClusterIdentifier=cluster.cluster_id,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
            DBSubnetGroupName=self.subnet_group(rds_client),
            PubliclyAccessible=False,
        )
        rds_client.describe_db_clusters(
            DBClusterIdentifier=cluster.cluster_id
        )  # moto: 'creating' on the first look only
        self.instances[writer_id] = cluster
        self.clusters[cluster.cluster_id] = cluster

    @staticmethod
    def subnet_group(rds_client: Any) -> str:
        """The DB subnet group over the default VPC's subnets (made once), as RDS's `default` group is."""
        name = "default"
        if not any(g["DBSubnetGroupName"] == name for g in rds_client.describe_db_subnet_groups()["DBSubnetGroups"]):
            ec2 = boto3.client("ec2", region_name=rds_client.meta.region_name)
            [vpc] = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v.get("IsDefault")]
            subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
            rds_client.create_db_subnet_group(
                DBSubnetGroupName=name,
                DBSubnetGroupDescription="default",
                SubnetIds=[subnet["SubnetId"] for subnet in subnets[:2]],
            )
        return name

    @staticmethod
    def default_security_group(rds_client: Any) -> str:
        ec2 = boto3.client("ec2", region_name=rds_client.meta.region_name)
        [vpc] = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v.get("IsDefault")]
        filters = [{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
        return str(ec2.describe_security_groups(Filters=filters)["SecurityGroups"][0]["GroupId"])

    # ---- patches ------------------------------------------------------------------------

    def __enter__(self) -> RdsEmulator:
        emulator = self
        original_modify_group = RDSBackend.modify_db_parameter_group
        original_modify_instance = RDSBackend.modify_db_instance
        original_describe = RDSBackend.describe_db_instances
        original_groups = DBInstance.db_parameter_groups
        original_address = property_getter(DBInstance, "address")
        original_modify_cluster_group = RDSBackend.modify_db_cluster_parameter_group
        original_modify_cluster = RDSBackend.modify_db_cluster
        original_members = property_getter(DBCluster, "db_cluster_members")
        original_cluster_endpoint = property_getter(DBCluster, "endpoint")
        original_describe_groups = RDSBackend.describe_db_parameter_groups
        original_delete_security_group = SecurityGroupBackend.delete_security_group

        def delete_security_group(backend: Any, name: str | None = None, group_id: str | None = None) -> None:
            rds = rds_backends[backend.account_id][backend.region_name]
            users: list[Any] = [*rds.databases.values(), *rds.clusters.values()]
            if group_id and any(group_id in user.vpc_security_group_ids for user in users):
                raise DependencyViolationError(f"resource {group_id} has a dependent object")
            original_delete_security_group(backend, name, group_id)

        def describe_db_parameter_groups(backend: RDSBackend, kwargs: dict[str, Any]) -> Any:
            found = original_describe_groups(backend, kwargs)
            name = kwargs.get("db_parameter_group_name")
            if name and not found:
                raise DBParameterGroupNotFoundError(name)
            return found

        def check_modifiable(group_name: str, parameters: list[dict[str, Any]]) -> None:
            if group_name.startswith("default."):
                raise RDSClientError("InvalidParameterValue", "Cannot modify a default parameter group.")
            for parameter in parameters:
                if parameter.get("ParameterName") in STATIC_PARAMETERS and parameter.get("ApplyMethod") == "immediate":
                    raise RDSClientError(
                        "InvalidParameterCombination",
                        f"cannot use immediate apply method for static parameter {parameter['ParameterName']}",
                    )

        def modify_db_cluster_parameter_group(
            backend: RDSBackend, db_cluster_parameter_group_name: str, db_cluster_parameter_group_parameters: Any
        ) -> Any:
            parameters = list(db_cluster_parameter_group_parameters)
            check_modifiable(db_cluster_parameter_group_name, parameters)
            group = original_modify_cluster_group(backend, db_cluster_parameter_group_name, parameters)
            static_changed = any(p.get("ParameterName") in STATIC_PARAMETERS for p in parameters)
            for cluster_id, writer in emulator.clusters.items():
                cluster = backend.clusters.get(cluster_id)
                if cluster is not None and cluster.parameter_group == db_cluster_parameter_group_name:
                    call = f"ModifyDBClusterParameterGroup {db_cluster_parameter_group_name}"
                    writer.group_changed(call, group.parameters, needs_reboot=static_changed)
            return group

        def modify_db_cluster(backend: RDSBackend, kwargs: dict[str, Any]) -> Any:
            cluster_id = kwargs["db_cluster_identifier"].lower()
            before = backend.clusters[cluster_id].parameter_group
            cluster = original_modify_cluster(backend, kwargs)
            writer = emulator.clusters.get(cluster_id)
            if writer and cluster.parameter_group != before:
                group = backend.db_cluster_parameter_groups[cluster.parameter_group]
                writer.group_changed(f"ModifyDBCluster {group.name}", group.parameters, needs_reboot=True)
            return cluster

        def db_cluster_members(cluster: DBCluster) -> Any:
            members = original_members(cluster)
            writer = emulator.clusters.get(cluster.db_cluster_identifier)
            for member in members:
                if writer and member["IsClusterWriter"]:
                    member["DBClusterParameterGroupStatus"] = "pending-reboot" if writer.pending_reboot else "in-sync"
            return members

        def cluster_endpoint(cluster: DBCluster) -> str:
            writer = emulator.clusters.get(cluster.db_cluster_identifier)
            return writer.server.host if writer else original_cluster_endpoint(cluster)

        def modify_db_parameter_group(
            backend: RDSBackend, db_parameter_group_name: str, db_parameter_group_parameters: Any
        ) -> Any:
            parameters = list(db_parameter_group_parameters)
            check_modifiable(db_parameter_group_name, parameters)
            group = original_modify_group(backend, db_parameter_group_name, parameters)
            static_changed = any(p.get("ParameterName") in STATIC_PARAMETERS for p in parameters)
            for instance_id, emulated in emulator.instances.items():
                database = backend.databases.get(instance_id)
                if database is not None and database.db_parameter_group_name == group.name:
                    call = f"ModifyDBParameterGroup {group.name}"
                    emulated.group_changed(call, group.parameters, needs_reboot=static_changed)
            return group

        def modify_db_instance(backend: RDSBackend, db_instance_identifier: str, db_kwargs: dict[str, Any]) -> Any:
            before = backend.databases[db_instance_identifier].db_parameter_group_name
            database = original_modify_instance(backend, db_instance_identifier, db_kwargs)
            emulated = emulator.instances.get(db_instance_identifier)
            if emulated and database.db_parameter_group_name != before:
                [group] = database.db_parameter_groups()  # moto's lookup: None is the default group
                emulated.group_changed(f"ModifyDBInstance {group.name}", group.parameters, needs_reboot=True)
            return database

        def reboot_db_instance(backend: RDSBackend, db_instance_identifier: str) -> Any:
            database = backend.describe_db_instances(db_instance_identifier)[0]
            emulated = emulator.instances.get(db_instance_identifier)
            if emulated is None:
                return database
            if database.status != "available":
                raise RDSClientError("InvalidDBInstanceState", f"Instance {db_instance_identifier} is not available.")
            emulated.calls.append("RebootDBInstance")
            emulated.server.restart()
            emulated.pending_reboot = False
            emulated.reboots += 1
            emulated.describes_until_available = emulator.describes_per_reboot
            database.status = "rebooting"
            return database

        def describe_db_instances(backend: RDSBackend, *args: Any, **kwargs: Any) -> Any:
            found = original_describe(backend, *args, **kwargs)
            for database in found:
                emulated = emulator.instances.get(database.db_instance_identifier)
                if emulated and database.status == "rebooting":
                    if emulated.describes_until_available <= 0:
                        database.status = "available"
                    emulated.describes_until_available -= 1
            return found

        def db_parameter_group_status_list(database: DBInstance) -> Any:
            groups = original_groups(database)
            emulated = emulator.instances.get(database.db_instance_identifier)
            for group in groups:
                # moto's template reads this attribute, which DBParameterGroup does not declare (moto sets it so too)
                group.ParameterApplyStatus = "pending-reboot" if emulated and emulated.pending_reboot else "in-sync"  # type: ignore[attr-defined]
            return groups

        def address(database: DBInstance) -> str:
            emulated = emulator.instances.get(database.db_instance_identifier)
            return emulated.server.host if emulated else original_address(database)

        patches: list[AbstractContextManager[Any]] = [
            mock.patch.object(RDSBackend, "modify_db_parameter_group", modify_db_parameter_group),
            mock.patch.object(RDSBackend, "modify_db_instance", modify_db_instance),
            mock.patch.object(RDSBackend, "reboot_db_instance", reboot_db_instance),
            mock.patch.object(RDSBackend, "describe_db_instances", describe_db_instances),
            mock.patch.object(RDSBackend, "describe_db_parameter_groups", describe_db_parameter_groups),
            mock.patch.object(DBInstance, "db_parameter_group_status_list", property(db_parameter_group_status_list)),
            mock.patch.object(DBInstance, "address", property(address)),
            mock.patch.object(RDSBackend, "modify_db_cluster_parameter_group", modify_db_cluster_parameter_group),
            mock.patch.object(RDSBackend, "modify_db_cluster", modify_db_cluster),
            mock.patch.object(DBCluster, "db_cluster_members", property(db_cluster_members)),
            mock.patch.object(DBCluster, "endpoint", property(cluster_endpoint)),
            mock.patch.object(SecurityGroupBackend, "delete_security_group", delete_security_group),
        ]
        for patch in patches:
            self._stack.enter_context(patch)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
