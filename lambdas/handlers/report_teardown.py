"""ReportTeardown: the plan (dry run) or what was removed, and a notification."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dal.notifications import notify
from lambdas.logic.teardown import report
from lambdas.shared.observability import logger, tracer
from lambdas.shared.teardown_models import TeardownState


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = TeardownState.model_validate(event)
    output = report(state).model_dump(mode="json", exclude_none=True)
    notify(f"rds-cdc-teardown {output['status']}: {state.input.db_instance_identifier}", output)
    logger.info("teardown report", extra={"status": output["status"], "changes": output["changes"]})
    return output
