"""DropSignalTables: streamkap_signal and streamkap_heartbeat, and their schema once empty."""

from lambdas.dal import connections
from lambdas.dal.secrets import Secrets
from lambdas.logic import teardown
from lambdas.shared.observability import logger
from lambdas.shared.step import step
from lambdas.shared.teardown_models import DropSignalTablesInput, TeardownChanges


@step(DropSignalTablesInput)
def handler(state: DropSignalTablesInput) -> TeardownChanges:
    with connections.as_master(state.target, Secrets()) as db:
        changes = teardown.drop_tables(db, state.input)
    logger.info("signal tables removed", extra={"changes": changes})
    return TeardownChanges(changes=changes)
