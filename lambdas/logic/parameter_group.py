"""EnsureParameterGroup: logical replication on, sender timeout off, on a group AWS lets us edit."""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.dal.rds import InstanceInfo, Rds

# name -> (value, apply method). rds.logical_replication is static: it needs a reboot.
REQUIRED_PARAMETERS = {
    "rds.logical_replication": ("1", "pending-reboot"),
    "wal_sender_timeout": ("0", "immediate"),
}
STATIC_PARAMETERS = {"rds.logical_replication"}


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


def plan_parameter_group(rds: Rds, instance: InstanceInfo) -> ParameterPlan:
    attach = is_default_group(instance.parameter_group)
    group = custom_group_name(instance.instance_id) if attach else instance.parameter_group
    exists = not attach or rds.parameter_group_exists(group)
    current = rds.user_parameters(group, set(REQUIRED_PARAMETERS)) if exists else {}
    to_set = {name: spec for name, spec in REQUIRED_PARAMETERS.items() if current.get(name) != spec[0]}
    return ParameterPlan(group=group, create_group=not exists, attach_group=attach, parameters=to_set)


def ensure_parameter_group(rds: Rds, instance: InstanceInfo, family: str) -> tuple[list[str], bool]:
    """Apply the plan; returns (changes, whether a reboot is needed for them to take effect)."""
    plan = plan_parameter_group(rds, instance)
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
