"""Report: the execution's output (connector settings, tables CSV, changes) and a notification."""

from typing import Any

from lambdas.dal.notifications import notify
from lambdas.logic.report import report
from lambdas.shared.models import WorkflowState
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(WorkflowState)
def handler(state: WorkflowState) -> dict[str, Any]:
    output = report(state).model_dump(mode="json", exclude_none=True)
    instance = state.input.target_id
    notify(f"rds-cdc-setup {output['status']}: {instance}", output)
    logger.info("report", extra={"status": output["status"], "changes": output.get("changes")})
    return output
