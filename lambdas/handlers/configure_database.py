"""ConfigureDatabase: role, user, grants, signal/heartbeat tables and publication in one transaction."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dal import connections
from lambdas.dal.secrets import Secrets
from lambdas.logic.database_apply import configure_database
from lambdas.shared.models import WorkflowState
from lambdas.shared.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = WorkflowState.model_validate(event)
    state.require("target")
    secrets = Secrets()
    with connections.as_master(state.target, secrets) as db:
        result = configure_database(db, secrets, state.input, state.target)
    logger.info("database configured", extra={"changes": result.changes})
    return result.model_dump(mode="json")
