"""ValidateCheckInput: the settings setup used on the target, and what the check may do; bad input stops here."""

from typing import Any

from lambdas.shared.check_models import CheckInput
from lambdas.shared.observability import logger
from lambdas.shared.parsing import parse_or_reject
from lambdas.shared.step import step


def parse_input(event: dict[str, Any]) -> CheckInput:
    return parse_or_reject(CheckInput, event, "Check input rejected, nothing was read or changed.")


@step()
def handler(event: dict[str, Any]) -> dict[str, Any]:
    check = parse_input(event if isinstance(event, dict) else {"input": event})
    logger.info("check input accepted", extra={"target": check.target_id, "policy": check.policy})
    return {"input": check.model_dump(mode="json")}
