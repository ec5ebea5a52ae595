"""NotifyFailure: publish the named error and its message; the Fail state that follows ends the run."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.logic.failure import report_failure
from lambdas.shared.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failure = report_failure(event, "rds-cdc-setup")
    logger.error("workflow failed", extra={"error": failure["error"], "error_message": failure["message"]})
    return failure
