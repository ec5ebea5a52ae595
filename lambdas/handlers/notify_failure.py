"""NotifyFailure: publish the named error and its message; the Fail state that follows ends the run."""

from typing import Any

from lambdas.logic.failure import report_failure
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step()
def handler(event: dict[str, Any]) -> dict[str, Any]:
    failure = report_failure(event, "rds-cdc-setup")
    logger.error("workflow failed", extra={"error": failure["error"], "error_message": failure["message"]})
    return failure
