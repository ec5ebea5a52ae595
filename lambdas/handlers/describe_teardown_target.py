"""DescribeTeardownTarget: the instance or Aurora cluster, its endpoint, parameter group and master secret
(as for setup); a self-managed server's Target from the input alone."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dal.rds import Rds
from lambdas.logic.self_managed import describe_self_managed_target
from lambdas.logic.target import describe_target
from lambdas.shared.observability import logger, tracer
from lambdas.shared.teardown_models import TeardownState


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = TeardownState.model_validate(event)
    setup = state.input.setup_input()
    target = (
        describe_self_managed_target(setup)
        if setup.self_managed
        else describe_target(Rds(), setup, plan_parameters=False)
    )
    logger.info("target described", extra={"instance": target.instance_id, "parameter_group": target.parameter_group})
    return target.model_dump(mode="json")
