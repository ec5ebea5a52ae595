"""CheckConcurrency: stop early if another execution is already preparing the same instance."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dal.clients import client
from lambdas.logic.concurrency import ensure_first, instance_of, running_executions
from lambdas.shared.models import SetupInput
from lambdas.shared.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    setup = SetupInput.model_validate(event["input"])
    execution_arn = event["execution_arn"]
    target = instance_of(setup.model_dump())
    assert target is not None
    ensure_first(execution_arn, target, running_executions(client("stepfunctions"), execution_arn))
    logger.info("no earlier execution for this target", extra={"target": target})
    return {"execution_arn": execution_arn}
