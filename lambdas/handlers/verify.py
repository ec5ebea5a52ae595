"""Verify: log in as the new user, check the publication and peek the slot (bounded, never consuming)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dal import connections
from lambdas.dal.secrets import Secrets
from lambdas.logic.verify import verify
from lambdas.shared.models import WorkflowState
from lambdas.shared.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = WorkflowState.model_validate(event)
    state.require("target", "configure")
    with connections.as_user(state.target, Secrets(), state.configure.secret_arn) as db:
        result = verify(db, state.input, state.configure)
    logger.info("verified", extra=result.model_dump())
    return result.model_dump(mode="json")
