"""DropUser: the CDC user and role (privileges revoked, objects kept), then the user's secret."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dal import connections
from lambdas.dal.secrets import Secrets
from lambdas.logic import teardown
from lambdas.shared.observability import logger, tracer
from lambdas.shared.teardown_models import TeardownChanges, TeardownState


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = TeardownState.model_validate(event)
    state.require("target")
    secrets = Secrets()
    with connections.as_master(state.target, secrets) as db:
        changes = teardown.drop_user(db, secrets, state.input, state.target)
    logger.info("user removed", extra={"changes": changes})
    return TeardownChanges(changes=changes).model_dump(mode="json")
