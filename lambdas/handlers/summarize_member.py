"""SummarizeMember: one instance's setup outcome, cut down to what the fleet summary shows, so the
Map's results stay small (a setup's output may hold a tables CSV of up to 80 KiB)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.logic.fleet import member_result
from lambdas.shared.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = member_result(event)
    logger.info("fleet member", extra={"instance": result.db_instance_identifier, "status": result.status})
    return result.model_dump(mode="json", exclude_none=True)
