"""SummarizeFleet: one line per instance (status, or named error and message) and the counts."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.logic.fleet import summarize
from lambdas.shared.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    output = summarize(event["results"])
    logger.info("fleet finished", extra={"status": output.status, "counts": output.counts})
    return output.model_dump(mode="json", exclude_none=True)
