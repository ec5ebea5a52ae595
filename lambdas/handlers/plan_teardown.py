"""PlanTeardown: as the master user, what the chosen parts would remove; refuses an active slot unless forced."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dal import connections
from lambdas.dal.cloudwatch import Alarms
from lambdas.dal.rds import Rds
from lambdas.dal.secrets import Secrets
from lambdas.logic import teardown
from lambdas.shared.observability import logger, tracer
from lambdas.shared.teardown_models import TeardownPlan, TeardownState


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = TeardownState.model_validate(event)
    state.require("target")
    secrets = Secrets()
    with connections.as_master(state.target, secrets) as db:
        plan = teardown.plan_teardown(
            db, Rds(), secrets, state.input, state.target, Alarms() if state.input.drop_alarms else None
        )
    logger.info("teardown planned", extra={"plan": plan})
    return TeardownPlan(plan=plan).model_dump(mode="json")
