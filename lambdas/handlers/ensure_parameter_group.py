"""EnsureParameterGroup: a custom group with logical replication on, attached to the instance."""

from lambdas.dal.rds import Rds
from lambdas.logic.parameter_group import ensure_logical_replication
from lambdas.shared.models import EnsureParameterGroupInput, ParameterGroupResult
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(EnsureParameterGroupInput)
def handler(state: EnsureParameterGroupInput) -> ParameterGroupResult:
    result = ensure_logical_replication(Rds(), state.target, state.input, state.preflight.wal_level)
    logger.info(
        "parameter group ensured",
        extra={
            "changes": result.changes,
            "reboot_required": result.reboot_required,
            "max_slot_wal_keep_size_mb": result.max_slot_wal_keep_size_mb,
        },
    )
    return result
