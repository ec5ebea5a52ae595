"""DescribeTarget: the instance, its engine, version, parameter group, endpoint and master secret."""

from lambdas.dal.rds import Rds
from lambdas.dal.security_groups import SecurityGroups
from lambdas.logic.target import describe_target
from lambdas.shared.models import DescribeTargetInput, Target
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(DescribeTargetInput)
def handler(state: DescribeTargetInput) -> Target:
    attempt = state.target.attempt + 1 if state.target else 1
    groups = SecurityGroups() if state.input.allow_cidrs is not None else None
    target = describe_target(Rds(), state.input, attempt, security_groups=groups)
    logger.info(
        "target described",
        extra={
            "instance": target.instance_id,
            "version": target.engine_version,
            "parameter_group": target.parameter_group,
        },
    )
    return target
