"""ValidateInput: the execution input, parsed with the seed defaults; bad input stops here."""

from typing import Any

from lambdas.shared.models import SetupInput
from lambdas.shared.observability import logger
from lambdas.shared.parsing import parse_or_reject
from lambdas.shared.step import step


def parse_input(event: dict[str, Any]) -> SetupInput:
    return parse_or_reject(SetupInput, event, "Execution input rejected, nothing was changed.")


@step()
def handler(event: dict[str, Any]) -> dict[str, Any]:
    setup = parse_input(event if isinstance(event, dict) else {"input": event})
    logger.info("input accepted", extra={"instance": setup.db_instance_identifier, "dry_run": setup.dry_run})
    return {"input": setup.model_dump(mode="json")}
