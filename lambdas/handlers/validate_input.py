"""ValidateInput: the execution input, parsed with the seed defaults; bad input stops here."""

from typing import Any

from lambdas.logic.register import check_api_url
from lambdas.shared.models import SetupInput
from lambdas.shared.observability import logger
from lambdas.shared.parsing import parse_or_reject
from lambdas.shared.settings import environment
from lambdas.shared.step import step


def parse_input(event: dict[str, Any]) -> SetupInput:
    setup = parse_or_reject(SetupInput, event, "Execution input rejected, nothing was changed.")
    check_api_url(setup, environment().streamkap_api_url)
    return setup


@step()
def handler(event: dict[str, Any]) -> dict[str, Any]:
    setup = parse_input(event if isinstance(event, dict) else {"input": event})
    logger.info("input accepted", extra={"instance": setup.db_instance_identifier, "dry_run": setup.dry_run})
    return {"input": setup.model_dump(mode="json")}
