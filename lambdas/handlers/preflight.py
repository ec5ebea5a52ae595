"""Preflight: server checks as the master user and the plan of changes (dry_run stops after it)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dal import connections
from lambdas.dal.secrets import Secrets
from lambdas.logic.preflight import preflight
from lambdas.shared.models import WorkflowState
from lambdas.shared.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = WorkflowState.model_validate(event)
    state.require("target")
    secrets = Secrets()
    with connections.as_master(state.target, secrets) as db:
        result = preflight(db, secrets, state.input, state.target)
    logger.info("plan made", extra={"plan": result.plan})
    return result.model_dump(mode="json")
