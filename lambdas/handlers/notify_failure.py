"""NotifyFailure: publish the named error and its message; the Fail state that follows ends the run."""

from typing import Any

from lambdas.logic.failure import failed_target, report_failure
from lambdas.shared.models import NotifyFailureInput
from lambdas.shared.observability import logger
from lambdas.shared.step import step
from lambdas.shared.steps import Workflow


@step(NotifyFailureInput)
def handler(failure: NotifyFailureInput) -> dict[str, Any]:
    notice = report_failure(failure, failed_target(failure), Workflow.SETUP.state_machine_name)
    logger.error("workflow failed", extra={"error": notice["error"], "error_message": notice["message"]})
    return notice
