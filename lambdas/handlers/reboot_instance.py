"""RebootInstance: reboot so the static parameter rds.logical_replication takes effect."""

from lambdas.dal.rds import Rds
from lambdas.logic.reboot import reboot_if_pending
from lambdas.shared.models import RebootResult, WorkflowState
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(WorkflowState)
def handler(state: WorkflowState) -> RebootResult:
    state.require("target")
    changes = reboot_if_pending(Rds(), state.target.instance_id, state.target.cluster_id)
    logger.info("reboot requested" if changes else "instance busy: reboot deferred to the status check")
    return RebootResult(changes=changes)
