"""DescribeTeardownTarget: the instance, its endpoint, parameter group and master secret (as for setup)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dal.rds import Rds
from lambdas.logic.target import describe_target
from lambdas.shared.observability import logger, tracer
from lambdas.shared.teardown_models import TeardownState


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = TeardownState.model_validate(event)
    target = describe_target(Rds(), state.input.setup_input())
    logger.info("target described", extra={"instance": target.instance_id, "parameter_group": target.parameter_group})
    return target.model_dump(mode="json")
