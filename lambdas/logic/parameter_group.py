"""EnsureParameterGroup: logical replication on, sender timeout off, on a group AWS lets us edit."""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.dal.rds import InstanceInfo, Rds
from lambdas.shared.errors import InvalidInput

# name -> (value, apply method). rds.logical_replication is static: it needs a reboot.
REQUIRED_PARAMETERS = {
    "rds.logical_replication": ("1", "pending-reboot"),
    "wal_sender_timeout": ("0", "immediate"),
}
STATIC_PARAMETERS = {"rds.logical_replication"}
# The optional guard: a slot holding back more WAL (MB) than this is invalidated. PG13+, dynamic.
WAL_KEEP_PARAMETER = "max_slot_wal_keep_size"
WAL_KEEP_MIN_MAJOR = 13


def required_parameters(instance: InstanceInfo, max_slot_wal_keep_size_mb: int | None) -> dict[str, tuple[str, str]]:
    if max_slot_wal_keep_size_mb is None:
        return REQUIRED_PARAMETERS
    major = int(instance.engine_version.partition(".")[0])  # DescribeTarget has checked it parses
    if major < WAL_KEEP_MIN_MAJOR:
        raise InvalidInput(
            f"max_slot_wal_keep_size_mb needs PostgreSQL {WAL_KEEP_MIN_MAJOR}+; instance {instance.instance_id} "
            f"runs {instance.engine_version}: leave it null"
        )
    return {**REQUIRED_PARAMETERS, WAL_KEEP_PARAMETER: (str(max_slot_wal_keep_size_mb), "immediate")}


def is_default_group(name: str) -> bool:
    return name.startswith("default.")  # AWS refuses to modify these


def custom_group_name(instance_id: str) -> str:
    return f"{instance_id.lower()}-streamkap-cdc"


@dataclass(frozen=True)
class ParameterPlan:
    group: str  # the group that will hold the parameters
    create_group: bool
    attach_group: bool
    parameters: dict[str, tuple[str, str]]  # the ones to change

    def describe(self, instance_id: str, family: str) -> list[str]:
        lines = []
        if self.create_group:
            lines.append(f"create parameter group {self.group} (family {family})")
        lines += [f"set {name}={value} in parameter group {self.group}" for name, (value, _) in self.parameters.items()]
        if self.attach_group:
            lines.append(f"attach parameter group {self.group} to instance {instance_id}")
        return lines

    @property
    def needs_reboot(self) -> bool:
        return self.attach_group or any(name in STATIC_PARAMETERS for name in self.parameters)


def plan_parameter_group(
    rds: Rds, instance: InstanceInfo, max_slot_wal_keep_size_mb: int | None = None
) -> ParameterPlan:
    required = required_parameters(instance, max_slot_wal_keep_size_mb)
    attach = is_default_group(instance.parameter_group)
    group = custom_group_name(instance.instance_id) if attach else instance.parameter_group
    exists = not attach or rds.parameter_group_exists(group)
    current = rds.user_parameters(group, set(required)) if exists else {}
    to_set = {name: spec for name, spec in required.items() if current.get(name) != spec[0]}
    return ParameterPlan(group=group, create_group=not exists, attach_group=attach, parameters=to_set)


def ensure_parameter_group(
    rds: Rds, instance: InstanceInfo, family: str, max_slot_wal_keep_size_mb: int | None = None
) -> tuple[list[str], bool]:
    """Apply the plan; returns (changes, whether a reboot is needed for them to take effect)."""
    plan = plan_parameter_group(rds, instance, max_slot_wal_keep_size_mb)
    changes = plan.describe(instance.instance_id, family)
    if plan.create_group:
        rds.create_parameter_group(
            group=plan.group,
            family=family,
            description=f"Logical replication for Streamkap CDC on {instance.instance_id} (rds-cdc-setup)",
        )
    if plan.parameters:
        rds.set_parameters(plan.group, plan.parameters)
    if plan.attach_group:
        rds.attach_parameter_group(instance.instance_id, plan.group)
    return changes, plan.needs_reboot
