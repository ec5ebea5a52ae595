"""CreateSlot: the pgoutput logical replication slot, unless it already exists."""

from lambdas.dal import connections
from lambdas.dal.secrets import Secrets
from lambdas.logic.database_apply import create_slot
from lambdas.shared.models import CreateSlotInput, SlotResult
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(CreateSlotInput)
def handler(state: CreateSlotInput) -> SlotResult:
    secrets, target = Secrets(), state.target
    with connections.as_master(target, secrets) as db:
        result = create_slot(
            db,
            state.input,
            target,
            reconnect=lambda: connections.as_master(target, secrets),
            replicate=lambda: connections.as_master(target, secrets, replication=True),
        )
    logger.info("slot ensured", extra={"changes": result.changes})
    return result
