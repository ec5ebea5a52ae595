"""DescribeTarget: is this an RDS PostgreSQL instance (or Aurora PostgreSQL cluster) we can prepare, and where is it?"""

from __future__ import annotations

from lambdas.dal.rds import InstanceInfo, Rds
from lambdas.dal.security_groups import SecurityGroups
from lambdas.logic.monitoring import alarm_plan
from lambdas.logic.parameter_group import holder, plan_parameter_group
from lambdas.logic.reboot import max_polls
from lambdas.logic.security_group import plan_access
from lambdas.shared.errors import (
    InsufficientPrivilege,
    InvalidInput,
    NotOwned,
    ReadReplicaNotSupported,
    TargetNotAvailable,
    UnsupportedEngine,
    UnsupportedVersion,
)
from lambdas.shared.models import SetupInput, Target
from lambdas.shared.settings import environment

SUPPORTED_ENGINES = ("postgres",)
CLUSTER_ENGINES = ("aurora-postgresql",)
# Statuses an instance leaves by itself: the workflow waits (Wait state) instead of failing.
TRANSIENT_STATUSES = {
    "creating",
    "rebooting",
    "modifying",
    "backing-up",
    "configuring-enhanced-monitoring",
    "configuring-log-exports",
    "configuring-iam-database-auth",
    "renaming",
    "resetting-master-credentials",
    "storage-optimization",
    "maintenance",
    "upgrading",
}
MIN_MAJOR_VERSION = 10


def major_version(engine_version: str) -> int:
    try:
        return int(engine_version.split(".")[0])
    except ValueError:
        raise UnsupportedVersion(f"Cannot read the engine version {engine_version!r}") from None


def not_opted_in(instance: InstanceInfo) -> list[str]:
    """Where the deployment may change only opted-in targets (target_scope tagged), the instance (Aurora:
    the cluster, and its writer, which is what a reboot names) must carry the opt-in tag: else IAM
    would refuse half-way, after the parameter group was made."""
    settings = environment()
    if settings.target_scope != "tagged":
        return []
    key, _, value = settings.opt_in_tag.partition("=")
    holders = [(holder(instance), instance.tags)]
    if instance.cluster_id:
        holders.append((f"its writer instance {instance.instance_id}", instance.writer_tags))
    untagged = [name for name, tags in holders if tags.get(key) != value]
    if not untagged:
        return []
    return [
        f"{' and '.join(untagged)} {'do' if len(untagged) > 1 else 'does'} not carry the opt-in tag "
        f"{settings.opt_in_tag}, and this deployment (target_scope tagged) may modify and reboot only "
        f"opted-in targets. Tag {'them' if len(untagged) > 1 else 'it'} {settings.opt_in_tag} (that also lets "
        "EventBridge start the setup), or deploy with -c target_scope=account"
    ]


def describe_target(
    rds: Rds,
    setup: SetupInput,
    attempt: int = 1,
    *,
    plan_parameters: bool = True,
    security_groups: SecurityGroups | None = None,
) -> Target:
    """`attempt` counts the polls while the instance is in a transient status (see the ASL's WaitForTarget).
    `plan_parameters`: plan the parameter group (setup); a refusal in that plan stops a real run here,
    before any change (NotOwned), and is listed in a dry run's plan instead. Teardown plans its own.
    `security_groups` (with allow_cidrs): plan the access rule too, its refusal stopping a real run alike."""
    if setup.db_cluster_identifier:
        instance = rds.describe_cluster(setup.db_cluster_identifier)
        where = holder(instance)
        if instance.engine not in CLUSTER_ENGINES:
            raise UnsupportedEngine(
                f"{where} runs {instance.engine!r}; only Aurora PostgreSQL clusters can be prepared"
            )
        if not instance.instance_id:
            raise TargetNotAvailable(f"{where} has no writer instance; add one and start the execution again")
    elif setup.db_instance_identifier:
        instance = rds.describe_instance(setup.db_instance_identifier)
        where = holder(instance)
        if instance.engine not in SUPPORTED_ENGINES:
            hint = ""
            if instance.engine in CLUSTER_ENGINES:
                hint = " (an Aurora cluster member: pass its cluster as db_cluster_identifier)"
            raise UnsupportedEngine(f"{where} runs {instance.engine!r}; only PostgreSQL can be prepared{hint}")
    else:  # the ASL sends a host to DescribeSelfManagedTarget instead
        raise ValueError(f"{setup.target_id} is no RDS instance or Aurora cluster: there is nothing to describe")
    major = major_version(instance.engine_version)
    if major < MIN_MAJOR_VERSION:
        raise UnsupportedVersion(
            f"{where} runs PostgreSQL {instance.engine_version}; logical replication with pgoutput "
            f"needs {MIN_MAJOR_VERSION} or later: upgrade the instance first"
        )
    if instance.replica_source:
        raise ReadReplicaNotSupported(
            f"{where} is a read replica of {instance.replica_source}; run the setup on the primary"
        )
    waiting = instance.status in TRANSIENT_STATUSES and attempt < max_polls(setup)
    if not waiting and (instance.status != "available" or not instance.host or not instance.port):
        raise TargetNotAvailable(
            f"{where} is {instance.status!r}"
            + (f" after {setup.max_wait_minutes} minutes" if instance.status in TRANSIENT_STATUSES else "")
            + "; wait until it is 'available' and start the execution again"
        )
    secret_arn = setup.master_secret_arn or instance.master_secret_arn
    if not secret_arn:
        raise InvalidInput(
            f"{where} has no RDS-managed master secret; pass master_secret_arn (a secret with the "
            "master user's username and password)"
        )
    refusals = not_opted_in(instance)
    family = rds.parameter_group_family(instance.parameter_group, cluster=instance.cluster_id is not None)
    parameter_plan: list[str] = []
    reboot_needed = instance.parameter_apply_status == "pending-reboot"
    if plan_parameters:
        plan = plan_parameter_group(
            rds,
            instance,
            setup.max_slot_wal_keep_size_mb,
            adopt=setup.adopt,
            reboots=setup.reboot != "never",
            failover_slot=setup.failover_slot,
        )
        if plan.refusals and not setup.dry_run:
            raise NotOwned(" ".join(plan.refusals))
        parameter_plan = plan.describe(holder(instance), family) + alarm_plan(setup, plan.wal_keep_mb)
        reboot_needed |= plan.needs_reboot
        if refusals and not setup.dry_run:
            raise InsufficientPrivilege(" ".join(refusals))
        parameter_plan += [f"refused (a real run stops here): {refusal}" for refusal in refusals]
        if security_groups is not None and setup.allow_cidrs is not None:
            access = plan_access(security_groups, instance, setup)
            if access.refusal and not setup.dry_run:
                raise NotOwned(access.refusal)
            parameter_plan += access.describe(holder(instance))
    return Target(
        instance_id=instance.instance_id,
        cluster_id=instance.cluster_id,
        engine=instance.engine,
        engine_version=instance.engine_version,
        major_version=major,
        status=instance.status,
        parameter_group=instance.parameter_group,
        parameter_group_family=family,
        parameter_apply_status=instance.parameter_apply_status,
        host=instance.host or "",
        port=instance.port or 0,
        database=setup.database or instance.db_name or "postgres",
        master_secret_arn=secret_arn,
        master_username=instance.master_username,
        parameter_plan=parameter_plan,
        attempt=attempt,
        parameter_reboot_needed=reboot_needed,
    )
