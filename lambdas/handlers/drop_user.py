"""DropUser: the CDC user and role (privileges revoked, objects kept), then the user's secret."""

from lambdas.dal import connections
from lambdas.dal.secrets import Secrets
from lambdas.logic import teardown
from lambdas.shared.observability import logger
from lambdas.shared.step import step
from lambdas.shared.teardown_models import DropUserInput, TeardownChanges


@step(DropUserInput)
def handler(state: DropUserInput) -> TeardownChanges:
    secrets = Secrets()
    with connections.as_master(state.target, secrets) as db:
        changes = teardown.drop_user(db, secrets, state.input, state.target)
    logger.info("user removed", extra={"changes": changes})
    return TeardownChanges(changes=changes)
