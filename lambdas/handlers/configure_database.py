"""ConfigureDatabase: role, user, grants, signal/heartbeat tables and publication in one transaction."""

from lambdas.dal import connections
from lambdas.dal.secrets import Secrets
from lambdas.logic.database_apply import configure_database
from lambdas.shared.models import ConfigureDatabaseInput, ConfigureResult
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(ConfigureDatabaseInput)
def handler(state: ConfigureDatabaseInput) -> ConfigureResult:
    secrets = Secrets()
    with connections.as_master(state.target, secrets) as db:
        result = configure_database(db, secrets, state.input, state.target)
    logger.info("database configured", extra={"changes": result.changes})
    return result
