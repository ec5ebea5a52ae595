"""DescribeSelfManagedTarget: the Target of a self-managed PostgreSQL server, from the input alone."""

from lambdas.logic.self_managed import describe_self_managed_target
from lambdas.shared.models import DescribeSelfManagedTargetInput, Target
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(DescribeSelfManagedTargetInput)
def handler(state: DescribeSelfManagedTargetInput) -> Target:
    target = describe_self_managed_target(state.input)
    logger.info("self-managed target", extra={"target": target.instance_id})
    return target
