"""DescribeSelfManagedTarget: the Target of a self-managed PostgreSQL server, from the input alone."""

from lambdas.logic.self_managed import describe_self_managed_target
from lambdas.shared.models import Target, WorkflowState
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(WorkflowState)
def handler(state: WorkflowState) -> Target:
    target = describe_self_managed_target(state.input)
    logger.info("self-managed target", extra={"target": target.instance_id})
    return target
