"""DropSlot: the replication slot; an active one only with force (its reading session is ended first)."""

from lambdas.dal import connections
from lambdas.dal.secrets import Secrets
from lambdas.logic import teardown
from lambdas.shared.observability import logger
from lambdas.shared.step import step
from lambdas.shared.teardown_models import DropSlotInput, TeardownChanges


@step(DropSlotInput)
def handler(state: DropSlotInput) -> TeardownChanges:
    with connections.as_master(state.target, Secrets()) as db:
        changes = teardown.drop_slot(db, state.input, state.target)
    logger.info("slot removed", extra={"changes": changes})
    return TeardownChanges(changes=changes)
