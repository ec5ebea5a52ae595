"""RepairTarget: policy publish adds unpublished tables, repair recreates a lost publication or slot,
through ConfigureDatabase's and CreateSlot's code (lambdas/logic/check.py repair_target)."""

from lambdas.dal import connections
from lambdas.dal.secrets import Secrets
from lambdas.logic.check import repair_target
from lambdas.shared.check_models import RepairResult, RepairTargetInput
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(RepairTargetInput)
def handler(state: RepairTargetInput) -> RepairResult:
    secrets, target = Secrets(), state.target
    with connections.as_master(target, secrets) as db:
        result = repair_target(
            db, secrets, state.input, target, state.database, lambda: connections.as_master(target, secrets)
        )
    logger.info("check applied", extra={"changes": result.changes, "repaired": result.repaired})
    return result
