"""DescribeTarget: the instance, its engine, version, parameter group, endpoint and master secret."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dal.rds import Rds
from lambdas.logic.target import describe_target
from lambdas.shared.models import WorkflowState
from lambdas.shared.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = WorkflowState.model_validate(event)
    attempt = state.target.attempt + 1 if state.target else 1
    target = describe_target(Rds(), state.input, attempt)
    logger.info(
        "target described",
        extra={
            "instance": target.instance_id,
            "version": target.engine_version,
            "parameter_group": target.parameter_group,
        },
    )
    return target.model_dump(mode="json")
