"""DescribeTarget: the instance, its engine, version, parameter group, endpoint and master secret."""

from lambdas.dal.rds import Rds
from lambdas.logic.target import describe_target
from lambdas.shared.models import DescribeTargetInput, Target
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(DescribeTargetInput)
def handler(state: DescribeTargetInput) -> Target:
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
    return target
