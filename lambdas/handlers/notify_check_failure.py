"""NotifyCheckFailure: publish the named error and its message; the Fail state that follows ends the run."""

from typing import Any

from lambdas.logic.failure import given_target, report_failure
from lambdas.shared.check_models import NotifyCheckFailureInput
from lambdas.shared.observability import logger
from lambdas.shared.step import step
from lambdas.shared.steps import Workflow


@step(NotifyCheckFailureInput)
def handler(failure: NotifyCheckFailureInput) -> dict[str, Any]:
    # After ReportCheck (PublishFindings failed) the state is its output: `target` names the target.
    reported = failure.target if isinstance(failure.target, str) else None
    notice = report_failure(failure, given_target(failure.input) or reported, Workflow.CHECK.state_machine_name)
    logger.error("check failed", extra={"error": notice["error"], "error_message": notice["message"]})
    return notice
