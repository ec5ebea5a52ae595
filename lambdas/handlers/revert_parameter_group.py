"""RevertParameterGroup: re-attach the default group that setup replaced, once no logical slot is left."""

from lambdas.dal import connections
from lambdas.dal.rds import Rds
from lambdas.dal.secrets import Secrets
from lambdas.logic import teardown
from lambdas.shared.observability import logger
from lambdas.shared.step import step
from lambdas.shared.teardown_models import RevertParameterGroupInput, TeardownChanges


@step(RevertParameterGroupInput)
def handler(state: RevertParameterGroupInput) -> TeardownChanges:
    with connections.as_master(state.target, Secrets()) as db:
        changes = teardown.revert_parameter_group(db, Rds(), state.input, state.target)
    logger.info("parameter group reverted", extra={"changes": changes})
    return TeardownChanges(changes=changes)
