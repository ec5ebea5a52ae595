"""ValidateTeardownInput: what to remove, parsed with setup's names as defaults; bad input stops here."""

from typing import Any

from lambdas.shared.observability import logger
from lambdas.shared.parsing import parse_or_reject
from lambdas.shared.step import step
from lambdas.shared.teardown_models import TeardownInput


def parse_input(event: dict[str, Any]) -> TeardownInput:
    return parse_or_reject(TeardownInput, event, "Teardown input rejected, nothing was changed.")


@step()
def handler(event: dict[str, Any]) -> dict[str, Any]:
    teardown = parse_input(event if isinstance(event, dict) else {"input": event})
    logger.info("teardown input accepted", extra={"instance": teardown.db_instance_identifier})
    return {"input": teardown.model_dump(mode="json")}
