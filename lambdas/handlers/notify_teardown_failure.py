"""NotifyTeardownFailure: publish the named error and its message; the Fail state that follows ends the run."""

from typing import Any

from lambdas.logic.failure import given_target, report_failure
from lambdas.shared.observability import logger
from lambdas.shared.step import step
from lambdas.shared.steps import Workflow
from lambdas.shared.teardown_models import NotifyTeardownFailureInput


@step(NotifyTeardownFailureInput)
def handler(failure: NotifyTeardownFailureInput) -> dict[str, Any]:
    notice = report_failure(failure, given_target(failure.input), Workflow.TEARDOWN.state_machine_name)
    logger.error("teardown failed", extra={"error": notice["error"], "error_message": notice["message"]})
    return notice
