"""EnsureParameterGroup: a custom group with logical replication on, attached to the instance."""

from lambdas.dal.rds import Rds
from lambdas.logic.parameter_group import ensure_parameter_group, wal_keep_bound
from lambdas.shared.models import ParameterGroupResult, WorkflowState
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(WorkflowState)
def handler(state: WorkflowState) -> ParameterGroupResult:
    state.require("target", "preflight")
    rds = Rds()
    target = state.target
    instance = rds.describe_instance(target.instance_id, target.cluster_id)
    setup = state.input
    changes, reboot_for_changes = ensure_parameter_group(
        rds,
        instance,
        target.parameter_group_family,
        setup.max_slot_wal_keep_size_mb,
        adopt=setup.adopt,
        reboots=setup.reboot != "never",
    )
    instance = rds.describe_instance(target.instance_id, target.cluster_id)
    reboot_required = (
        reboot_for_changes
        or instance.parameter_apply_status == "pending-reboot"
        or state.preflight.wal_level != "logical"
    )
    bound = wal_keep_bound(rds, instance)  # what the group holds now: set, kept or absent
    logger.info(
        "parameter group ensured",
        extra={"changes": changes, "reboot_required": reboot_required, "max_slot_wal_keep_size_mb": bound},
    )
    return ParameterGroupResult(
        parameter_group=instance.parameter_group,
        changes=changes,
        reboot_required=reboot_required,
        max_slot_wal_keep_size_mb=bound,
    )
