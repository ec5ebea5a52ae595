"""ValidateTeardownInput: what to remove, parsed with setup's names as defaults; bad input stops here."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from lambdas.shared.errors import InvalidInput
from lambdas.shared.observability import logger, tracer
from lambdas.shared.teardown_models import TeardownInput


def parse_input(event: dict[str, Any]) -> TeardownInput:
    try:
        return TeardownInput.model_validate(event)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg'].removeprefix('Value error, ')}"
            for e in error.errors()
        )
        raise InvalidInput(f"Teardown input rejected, nothing was changed. {problems}") from None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    teardown = parse_input(event if isinstance(event, dict) else {"input": event})
    logger.info("teardown input accepted", extra={"instance": teardown.db_instance_identifier})
    return {"input": teardown.model_dump(mode="json")}
