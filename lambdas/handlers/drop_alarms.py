"""DropAlarms: the CloudWatch alarms setup made for the target, each checked for the workflow's marker."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dal.cloudwatch import Alarms
from lambdas.logic.monitoring import delete_alarms
from lambdas.shared.observability import logger, tracer
from lambdas.shared.teardown_models import TeardownChanges, TeardownState


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = TeardownState.model_validate(event)
    state.require("target")
    changes = delete_alarms(Alarms(), state.target)
    logger.info("alarms removed", extra={"changes": changes})
    return TeardownChanges(changes=changes).model_dump(mode="json")
