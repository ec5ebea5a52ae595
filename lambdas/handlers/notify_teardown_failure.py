"""NotifyTeardownFailure: publish the named error and its message; the Fail state that follows ends the run."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dal.notifications import notify
from lambdas.handlers.notify_failure import failure_message
from lambdas.shared.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    error = event.get("error") or {}
    name = error.get("Error", "UnknownError")
    message = failure_message(error)
    instance = (event.get("input") or {}).get("db_instance_identifier")
    notify(f"rds-cdc-teardown failed: {instance}: {name}", {"error": name, "message": message, "instance": instance})
    logger.error("teardown failed", extra={"error": name, "error_message": message})
    return {"error": name, "message": message}
