"""ReportTeardown: the plan (dry run) or what was removed, and a notification."""

from typing import Any

from lambdas.dal.notifications import notify
from lambdas.logic.teardown import report
from lambdas.shared.observability import logger
from lambdas.shared.step import step
from lambdas.shared.teardown_models import TeardownState


@step(TeardownState)
def handler(state: TeardownState) -> dict[str, Any]:
    output = report(state).model_dump(mode="json", exclude_none=True)
    notify(f"rds-cdc-teardown {output['status']}: {state.input.target_id}", output)
    logger.info("teardown report", extra={"status": output["status"], "changes": output["changes"]})
    return output
