"""DescribeCheckTarget: the instance or Aurora cluster as setup's DescribeTarget finds it (no plan), or a
self-managed server's Target from the input alone. A target that is not available stops the check."""

from lambdas.dal.rds import Rds
from lambdas.logic.reboot import max_polls
from lambdas.logic.self_managed import describe_self_managed_target
from lambdas.logic.target import describe_target
from lambdas.shared.check_models import DescribeCheckTargetInput
from lambdas.shared.models import Target
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(DescribeCheckTargetInput)
def handler(state: DescribeCheckTargetInput) -> Target:
    check = state.input
    target = (
        describe_self_managed_target(check)
        if check.self_managed
        # The last poll's attempt: a check does not wait for a rebooting target, it says so (TargetNotAvailable)
        else describe_target(Rds(), check, max_polls(check), plan_parameters=False)
    )
    logger.info("target described", extra={"instance": target.instance_id, "parameter_group": target.parameter_group})
    return target
