"""SummarizeFleet: one line per instance (status, or named error and message) and the counts."""

from typing import Any

from lambdas.logic.fleet import summarize
from lambdas.shared.fleet_models import FleetOutput
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(exclude_none=True)
def handler(event: dict[str, Any]) -> FleetOutput:
    output = summarize(event["results"])
    logger.info("fleet finished", extra={"status": output.status, "counts": output.counts})
    return output
