"""NotifyFailure: publish the named error and its message; the Fail state that follows ends the run."""

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dal.notifications import notify
from lambdas.shared.observability import logger, tracer


def failure_message(error: dict[str, Any]) -> str:
    """The Lambda's errorMessage from the Catch's Cause, without the stack trace."""
    cause = error.get("Cause") or ""
    try:
        return json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        return cause


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    error = event.get("error") or {}
    name = error.get("Error", "UnknownError")
    message = failure_message(error)
    instance = (event.get("input") or {}).get("db_instance_identifier")
    notify(f"rds-cdc-setup failed: {instance}: {name}", {"error": name, "message": message, "instance": instance})
    logger.error("workflow failed", extra={"error": name, "error_message": message})
    return {"error": name, "message": message}
