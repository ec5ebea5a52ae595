"""CreateSlot: the pgoutput logical replication slot, unless it already exists."""

from lambdas.dal import connections
from lambdas.dal.secrets import Secrets
from lambdas.logic.database_apply import create_slot
from lambdas.shared.models import SlotResult, WorkflowState
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(WorkflowState)
def handler(state: WorkflowState) -> SlotResult:
    state.require("target")
    secrets = Secrets()
    with connections.as_master(state.target, secrets) as db:
        result = create_slot(db, state.input, state.target, lambda: connections.as_master(state.target, secrets))
    logger.info("slot ensured", extra={"changes": result.changes})
    return result
