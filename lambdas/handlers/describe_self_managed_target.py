"""DescribeSelfManagedTarget: the Target of a self-managed PostgreSQL server, from the input alone."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.logic.self_managed import describe_self_managed_target
from lambdas.shared.models import WorkflowState
from lambdas.shared.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = WorkflowState.model_validate(event)
    target = describe_self_managed_target(state.input)
    logger.info("self-managed target", extra={"target": target.instance_id})
    return target.model_dump(mode="json")
