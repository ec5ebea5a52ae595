"""What moto's RDS does not model, added on top of it for local runs and tests:

- default parameter groups cannot be modified (InvalidParameterValue, as AWS says);
- static parameters cannot be applied `immediate`; once changed they, and a newly attached
  group, leave the instance `pending-reboot` until it reboots;
- RebootDBInstance needs an available instance, goes `rebooting` -> `available`, and
  restarts the local PostgreSQL with the group's settings (rds.logical_replication -> wal_level);
- dynamic parameters (wal_sender_timeout) reach the server at once, by a reload;
- the endpoint and the MasterUserSecret point at the local server and its real credentials.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from moto.rds.exceptions import RDSClientError
from moto.rds.models import DBInstance, RDSBackend

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


@dataclass
class EmulatedInstance:
    server: LocalPostgres
    pending_reboot: bool = False
    reboots: int = 0
    describes_until_available: int = 0
    calls: list[str] = field(default_factory=list)  # mutating RDS calls, in order


class RdsEmulator:
    """Patch moto's RDS backend while entered. One emulator per test/demo run."""

    def __init__(self, *, describes_per_reboot: int = 1) -> None:
        self.instances: dict[str, EmulatedInstance] = {}
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
    ) -> EmulatedInstance:
        kwargs: dict[str, Any] = dict(
            DBInstanceIdentifier=instance_id,
            Engine=engine,
            EngineVersion=engine_version,
            DBInstanceClass="db.t4g.micro",
            AllocatedStorage=20,
            MasterUsername=server.master_user,
            ManageMasterUserPassword=True,
            Port=server.port,
            DBName=db_name,
        )
        if parameter_group:
            kwargs["DBParameterGroupName"] = parameter_group
        raw = rds_client.create_db_instance(**kwargs)["DBInstance"]
        secret_arn = raw["MasterUserSecret"]["SecretArn"]
        secrets_client.put_secret_value(
            SecretId=secret_arn,
            SecretString=json.dumps({"username": server.master_user, "password": server.master_password}),
        )
        emulated = EmulatedInstance(server=server)
        self.instances[instance_id] = emulated
        return emulated

    # ---- patches ------------------------------------------------------------------------

    def __enter__(self) -> RdsEmulator:
        emulator = self
        original_modify_group = RDSBackend.modify_db_parameter_group
        original_modify_instance = RDSBackend.modify_db_instance
        original_describe = RDSBackend.describe_db_instances
        original_groups = DBInstance.db_parameter_groups
        original_address = DBInstance.address

        def modify_db_parameter_group(
            backend: RDSBackend, db_parameter_group_name: str, db_parameter_group_parameters: Any
        ) -> Any:
            parameters = list(db_parameter_group_parameters)
            if db_parameter_group_name.startswith("default."):
                raise RDSClientError("InvalidParameterValue", "Cannot modify a default parameter group.")
            for parameter in parameters:
                if parameter.get("ParameterName") in STATIC_PARAMETERS and parameter.get("ApplyMethod") == "immediate":
                    raise RDSClientError(
                        "InvalidParameterCombination",
                        f"cannot use immediate apply method for static parameter {parameter['ParameterName']}",
                    )
            group = original_modify_group(backend, db_parameter_group_name, parameters)
            static_changed = any(p.get("ParameterName") in STATIC_PARAMETERS for p in parameters)
            for instance_id, emulated in emulator.instances.items():
                database = backend.databases.get(instance_id)
                if database is not None and database.db_parameter_group_name == group.name:
                    emulated.calls.append(f"ModifyDBParameterGroup {group.name}")
                    emulated.pending_reboot |= static_changed
                    emulated.server.apply(**server_settings(group.parameters))
            return group

        def modify_db_instance(backend: RDSBackend, db_instance_identifier: str, db_kwargs: dict[str, Any]) -> Any:
            before = backend.databases[db_instance_identifier].db_parameter_group_name
            database = original_modify_instance(backend, db_instance_identifier, db_kwargs)
            emulated = emulator.instances.get(db_instance_identifier)
            if emulated and database.db_parameter_group_name != before:
                emulated.calls.append(f"ModifyDBInstance {database.db_parameter_group_name}")
                emulated.pending_reboot = True
                group = backend.db_parameter_groups[database.db_parameter_group_name]
                emulated.server.apply(**server_settings(group.parameters))
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
                group.ParameterApplyStatus = "pending-reboot" if emulated and emulated.pending_reboot else "in-sync"
            return groups

        def address(database: DBInstance) -> str:
            emulated = emulator.instances.get(database.db_instance_identifier)
            return emulated.server.host if emulated else original_address.fget(database)

        patches = [
            mock.patch.object(RDSBackend, "modify_db_parameter_group", modify_db_parameter_group),
            mock.patch.object(RDSBackend, "modify_db_instance", modify_db_instance),
            mock.patch.object(RDSBackend, "reboot_db_instance", reboot_db_instance),
            mock.patch.object(RDSBackend, "describe_db_instances", describe_db_instances),
            mock.patch.object(DBInstance, "db_parameter_group_status_list", property(db_parameter_group_status_list)),
            mock.patch.object(DBInstance, "address", property(address)),
        ]
        for patch in patches:
            self._stack.enter_context(patch)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
