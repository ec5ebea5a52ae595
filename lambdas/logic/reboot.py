"""The reboot loop: RebootInstance once, then CheckRebootStatus after each Wait state.
No Lambda sleeps; the loop is bounded by max_wait_minutes, counted in polls. A reboot that did not
apply the group (it came too early, or RebootInstance found the instance busy) is issued again at
most once per run: rebooting a production database on every poll is worse than waiting."""

from __future__ import annotations

from collections.abc import Callable

from lambdas.dal.rds import Rds
from lambdas.shared.errors import RebootTimeout, TransientFailure
from lambdas.shared.models import RebootStatus, SetupInput, poll_count

MAX_REBOOTS_PER_RUN = 2  # the reboot, and at most one extra when the group is still pending-reboot


def reboot_if_pending(rds: Rds, instance_id: str, cluster_id: str | None = None) -> list[str]:
    """Reboot now if the instance is available; a busy instance (still 'modifying' after the
    group was attached) is rebooted later by CheckRebootStatus. Aurora: the cluster's current writer."""
    instance = rds.describe_instance(instance_id, cluster_id) if cluster_id else rds.describe_instance(instance_id)
    if instance.status != "available":
        return []
    rds.reboot(instance.instance_id)
    where = f" (writer of cluster {cluster_id})" if cluster_id else ""
    return [f"rebooted instance {instance.instance_id}{where} to apply rds.logical_replication=1"]


def max_polls(setup: SetupInput) -> int:
    return poll_count(setup.poll_seconds, setup.max_wait_minutes)


def check_reboot(
    rds: Rds,
    setup: SetupInput,
    instance_id: str,
    previous_attempt: int,
    read_wal_level: Callable[[], str],
    cluster_id: str | None = None,
    *,
    rebooted: bool = True,
    previous_reboots: int = 0,
) -> RebootStatus:
    """Aurora (`cluster_id`): the writer's status and the cluster parameter group's apply status on it.
    `rebooted`: RebootInstance rebooted (it defers when the instance is busy); `previous_reboots`: the
    reboots earlier checks of this run issued."""
    attempt = previous_attempt + 1
    instance = rds.describe_instance(instance_id, cluster_id) if cluster_id else rds.describe_instance(instance_id)
    instance_id = instance.instance_id
    wal_level = None
    not_accepting = None
    ready = False
    reboots = previous_reboots
    message = None
    if instance.status == "available" and instance.parameter_apply_status == "pending-reboot":
        so_far = reboots + (1 if rebooted else 0)
        if so_far < MAX_REBOOTS_PER_RUN:
            rds.reboot(instance_id)  # the first reboot was skipped or came too early: issue it again
            reboots += 1
        else:
            message = (
                f"Instance {instance_id} is available but its parameter group is still 'pending-reboot' after "
                f"{so_far} reboots in this run; not rebooting it again (at most one extra reboot per run): "
                "waiting for RDS to apply the group"
            )
    elif instance.status == "available" and instance.parameter_apply_status == "in-sync":
        try:
            wal_level = read_wal_level()
        except TransientFailure as error:
            # RDS says available a moment before PostgreSQL accepts connections (refused, or 57P03
            # "the database system is starting up"): not ready yet, the next poll asks again.
            if not error.database_not_ready:
                raise
            not_accepting = str(error)
        ready = wal_level == "logical"
    status = RebootStatus(
        ready=ready,
        attempt=attempt,
        status=instance.status,
        parameter_apply_status=instance.parameter_apply_status,
        wal_level=wal_level,
        reboots=reboots,
        waiting_because=message,
    )
    if not ready and attempt >= max_polls(setup):
        raise RebootTimeout(
            f"Instance {instance_id} not ready after {setup.max_wait_minutes} minutes: status "
            f"{instance.status!r}, parameter group {instance.parameter_apply_status!r}, wal_level "
            f"{wal_level or 'unknown'}{f' ({not_accepting})' if not_accepting else ''}. "
            f"{message + '. ' if message else ''}Check the RDS events of the "
            "instance, then start the execution again"
        )
    return status
