"""EnsureParameterGroup: a custom group with logical replication on, attached to the instance."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dal.rds import Rds
from lambdas.logic.parameter_group import ensure_logical_replication
from lambdas.shared.models import WorkflowState
from lambdas.shared.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = WorkflowState.model_validate(event)
    state.require("target", "preflight")
    result = ensure_logical_replication(Rds(), state.target, state.input, state.preflight.wal_level)
    logger.info(
        "parameter group ensured",
        extra={
            "changes": result.changes,
            "reboot_required": result.reboot_required,
            "max_slot_wal_keep_size_mb": result.max_slot_wal_keep_size_mb,
        },
    )
    return result.model_dump(mode="json")
