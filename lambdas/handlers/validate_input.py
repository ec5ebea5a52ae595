"""ValidateInput: the execution input, parsed with the seed defaults; bad input stops here."""

from typing import Any

from pydantic import ValidationError

from lambdas.shared.errors import InvalidInput
from lambdas.shared.models import SetupInput
from lambdas.shared.observability import logger
from lambdas.shared.step import step


def parse_input(event: dict[str, Any]) -> SetupInput:
    try:
        return SetupInput.model_validate(event)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in error.errors())
        raise InvalidInput(f"Execution input rejected, nothing was changed. {problems}") from None


@step()
def handler(event: dict[str, Any]) -> dict[str, Any]:
    setup = parse_input(event if isinstance(event, dict) else {"input": event})
    logger.info("input accepted", extra={"instance": setup.db_instance_identifier, "dry_run": setup.dry_run})
    return {"input": setup.model_dump(mode="json")}
