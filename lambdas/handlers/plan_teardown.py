"""PlanTeardown: as the master user, what the chosen parts would remove; refuses an active slot unless forced."""

from lambdas.dal import connections
from lambdas.dal.cloudwatch import Alarms
from lambdas.dal.rds import Rds
from lambdas.dal.secrets import Secrets
from lambdas.dal.security_groups import SecurityGroups
from lambdas.logic import teardown
from lambdas.shared.observability import logger
from lambdas.shared.step import step
from lambdas.shared.teardown_models import PlanTeardownInput, TeardownPlan


@step(PlanTeardownInput)
def handler(state: PlanTeardownInput) -> TeardownPlan:
    secrets = Secrets()
    with connections.as_master(state.target, secrets) as db:
        plan = teardown.plan_teardown(
            db,
            Rds(),
            secrets,
            state.input,
            state.target,
            Alarms() if state.input.drop_alarms else None,
            SecurityGroups() if state.input.drop_security_group else None,
        )
    logger.info("teardown planned", extra={"plan": plan})
    return TeardownPlan(plan=plan)
