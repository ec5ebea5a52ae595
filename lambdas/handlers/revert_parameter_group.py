"""RevertParameterGroup: re-attach the default group that setup replaced, once no logical slot is left."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dal import connections
from lambdas.dal.rds import Rds
from lambdas.dal.secrets import Secrets
from lambdas.logic import teardown
from lambdas.shared.observability import logger, tracer
from lambdas.shared.teardown_models import TeardownChanges, TeardownState


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = TeardownState.model_validate(event)
    state.require("target")
    with connections.as_master(state.target, Secrets()) as db:
        changes = teardown.revert_parameter_group(db, Rds(), state.input, state.target)
    logger.info("parameter group reverted", extra={"changes": changes})
    return TeardownChanges(changes=changes).model_dump(mode="json")
