"""CreateAlarms: CloudWatch alarms on slot lag, WAL disk usage and free storage, on the topic."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dal.cloudwatch import Alarms
from lambdas.logic.monitoring import ensure_alarms
from lambdas.shared.models import WorkflowState
from lambdas.shared.observability import logger, tracer
from lambdas.shared.settings import environment


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = WorkflowState.model_validate(event)
    state.require("target")
    # EnsureParameterGroup's bound; None where it did not run (self-managed: no alarms anyway) or left WAL unbounded
    bound = state.parameter_group.max_slot_wal_keep_size_mb if state.parameter_group else None
    result = ensure_alarms(Alarms(), state.input, state.target.instance_id, environment().notification_topic_arn, bound)
    logger.info("alarms ensured", extra={"changes": result.changes})
    return result.model_dump(mode="json")
