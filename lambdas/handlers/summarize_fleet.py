"""SummarizeFleet: one line per instance (status, or named error and message) and the counts."""

from lambdas.logic.fleet import summarize
from lambdas.shared.fleet_models import FleetOutput, SummarizeFleetInput
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(SummarizeFleetInput, exclude_none=True)
def handler(fleet: SummarizeFleetInput) -> FleetOutput:
    output = summarize(fleet.results)
    logger.info("fleet finished", extra={"status": output.status, "counts": output.counts})
    return output
