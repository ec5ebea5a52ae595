"""RebootInstance: reboot so the static parameter rds.logical_replication takes effect."""

from lambdas.dal.rds import Rds
from lambdas.logic.reboot import reboot_if_pending
from lambdas.shared.models import RebootInstanceInput, RebootResult
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(RebootInstanceInput)
def handler(state: RebootInstanceInput) -> RebootResult:
    changes = reboot_if_pending(Rds(), state.target.instance_id, state.target.cluster_id)
    logger.info("reboot requested" if changes else "instance busy: reboot deferred to the status check")
    return RebootResult(changes=changes)
