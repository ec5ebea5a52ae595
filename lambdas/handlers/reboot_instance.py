"""RebootInstance: reboot so the static parameter rds.logical_replication takes effect."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dal.rds import Rds
from lambdas.logic.reboot import reboot_if_pending
from lambdas.shared.models import RebootResult, WorkflowState
from lambdas.shared.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = WorkflowState.model_validate(event)
    state.require("target")
    changes = reboot_if_pending(Rds(), state.target.instance_id, state.target.cluster_id)
    logger.info("reboot requested" if changes else "instance busy: reboot deferred to the status check")
    return RebootResult(changes=changes).model_dump(mode="json")
