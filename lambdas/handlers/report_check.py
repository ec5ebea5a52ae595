"""ReportCheck: the findings, their counts per kind, the changes made: the execution's output, which the
deployment's publishing of findings (metrics, a notification on change) reads."""

from lambdas.logic.check import report_check
from lambdas.shared.check_models import CheckOutput, CheckState
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(CheckState)
def handler(state: CheckState) -> CheckOutput:
    output = report_check(state)
    logger.info("check report", extra={"status": output.status, "counts": output.counts, "changes": output.changes})
    return output
