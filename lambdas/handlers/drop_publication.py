"""DropPublication: the publication setup created."""

from lambdas.dal import connections
from lambdas.dal.secrets import Secrets
from lambdas.logic import teardown
from lambdas.shared.observability import logger
from lambdas.shared.step import step
from lambdas.shared.teardown_models import DropPublicationInput, TeardownChanges


@step(DropPublicationInput)
def handler(state: DropPublicationInput) -> TeardownChanges:
    with connections.as_master(state.target, Secrets()) as db:
        changes = teardown.drop_publication(db, state.input, state.target)
    logger.info("publication removed", extra={"changes": changes})
    return TeardownChanges(changes=changes)
