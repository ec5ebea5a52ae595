"""ValidateTeardownInput: what to remove, parsed with setup's names as defaults; bad input stops here."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.shared.observability import logger, tracer
from lambdas.shared.parsing import parse_or_reject
from lambdas.shared.teardown_models import TeardownInput


def parse_input(event: dict[str, Any]) -> TeardownInput:
    return parse_or_reject(TeardownInput, event, "Teardown input rejected, nothing was changed.")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    teardown = parse_input(event if isinstance(event, dict) else {"input": event})
    logger.info("teardown input accepted", extra={"instance": teardown.db_instance_identifier})
    return {"input": teardown.model_dump(mode="json")}
