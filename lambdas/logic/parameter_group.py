"""EnsureParameterGroup: logical replication on, sender timeout off, on a group AWS lets us edit.

Aurora: both parameters go into the cluster parameter group. rds.logical_replication exists only
there; wal_sender_timeout is offered there too, and a cluster-level value reaches every instance of
the cluster, including whichever becomes the writer after a failover (an instance-level group would
have to be set on each instance, and a new writer without it would time the connector out)."""

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
    """The group made for an instance, or for an Aurora cluster (named after the cluster)."""
    return f"{instance_id.lower()}-streamkap-cdc"


def holder(instance: InstanceInfo) -> str:
    """What the group is attached to, as the plan and changes say it."""
    return f"cluster {instance.cluster_id}" if instance.cluster_id else f"instance {instance.instance_id}"


@dataclass(frozen=True)
class ParameterPlan:
    group: str  # the group that will hold the parameters
    create_group: bool
    cluster: bool  # an Aurora cluster parameter group
    attach_group: bool
    parameters: dict[str, tuple[str, str]]  # the ones to change

    def describe(self, attached_to: str, family: str) -> list[str]:
        """`attached_to`: holder(instance), e.g. "instance orders-prod" or "cluster orders"."""
        kind = "cluster parameter group" if self.cluster else "parameter group"
        lines = []
        if self.create_group:
            lines.append(f"create {kind} {self.group} (family {family})")
        lines += [f"set {name}={value} in {kind} {self.group}" for name, (value, _) in self.parameters.items()]
        if self.attach_group:
            lines.append(f"attach {kind} {self.group} to {attached_to}")
        return lines

    @property
    def needs_reboot(self) -> bool:
        return self.attach_group or any(name in STATIC_PARAMETERS for name in self.parameters)


def plan_parameter_group(
    rds: Rds, instance: InstanceInfo, max_slot_wal_keep_size_mb: int | None = None
) -> ParameterPlan:
    required = required_parameters(instance, max_slot_wal_keep_size_mb)
    cluster = instance.cluster_id is not None
    attach = is_default_group(instance.parameter_group)
    group = custom_group_name(instance.cluster_id or instance.instance_id) if attach else instance.parameter_group
    exists = not attach or rds.parameter_group_exists(group, cluster=cluster)
    current = rds.user_parameters(group, set(required), cluster=cluster) if exists else {}
    to_set = {name: spec for name, spec in required.items() if current.get(name) != spec[0]}
    return ParameterPlan(group=group, create_group=not exists, cluster=cluster, attach_group=attach, parameters=to_set)


def ensure_parameter_group(
    rds: Rds, instance: InstanceInfo, family: str, max_slot_wal_keep_size_mb: int | None = None
) -> tuple[list[str], bool]:
    """Apply the plan; returns (changes, whether a reboot is needed for them to take effect)."""
    plan = plan_parameter_group(rds, instance, max_slot_wal_keep_size_mb)
    changes = plan.describe(holder(instance), family)
    if plan.create_group:
        rds.create_parameter_group(
            group=plan.group,
            family=family,
            description=f"Logical replication for Streamkap CDC on {holder(instance)} (rds-cdc-setup)",
            cluster=plan.cluster,
        )
    if plan.parameters:
        rds.set_parameters(plan.group, plan.parameters, cluster=plan.cluster)
    if plan.attach_group:
        rds.attach_parameter_group(instance.instance_id, plan.group, cluster_id=instance.cluster_id)
    return changes, plan.needs_reboot
