"""DescribeTeardownTarget: the instance or Aurora cluster, its endpoint, parameter group and master secret
(as for setup); a self-managed server's Target from the input alone."""

from lambdas.dal.rds import Rds
from lambdas.logic.self_managed import describe_self_managed_target
from lambdas.logic.target import describe_target
from lambdas.shared.models import Target
from lambdas.shared.observability import logger
from lambdas.shared.step import step
from lambdas.shared.teardown_models import DescribeTeardownTargetInput


@step(DescribeTeardownTargetInput)
def handler(state: DescribeTeardownTargetInput) -> Target:
    setup = state.input.setup_input()
    target = (
        describe_self_managed_target(setup)
        if setup.self_managed
        else describe_target(Rds(), setup, plan_parameters=False)
    )
    logger.info("target described", extra={"instance": target.instance_id, "parameter_group": target.parameter_group})
    return target
