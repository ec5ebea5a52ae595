"""ResolveFleet: the fleet input's instances (a list, or a tag), each with its setup input."""

from typing import Any

from pydantic import ValidationError

from lambdas.dal.rds import Rds
from lambdas.logic.fleet import resolve_fleet
from lambdas.shared.errors import InvalidInput
from lambdas.shared.fleet_models import FleetInput, FleetPlan
from lambdas.shared.models import SetupInput
from lambdas.shared.observability import logger
from lambdas.shared.parsing import parse_or_reject, problems
from lambdas.shared.step import step

REJECTED = "Fleet input rejected, no setup was started."


def parse_fleet_input(event: Any) -> FleetInput:
    return parse_or_reject(FleetInput, event, REJECTED)


@step()
def handler(event: dict[str, Any]) -> FleetPlan:
    fleet = parse_fleet_input(event)
    try:
        plan = resolve_fleet(Rds(), fleet)
    except ValidationError as error:  # `setup` does not make a valid execution input
        raise InvalidInput(f"{REJECTED} {problems(error, prefix='setup.', known=SetupInput.model_fields)}") from None
    logger.info("fleet resolved", extra={"instances": [m.db_instance_identifier for m in plan.members]})
    return plan
