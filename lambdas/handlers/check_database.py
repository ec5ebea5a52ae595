"""CheckDatabase: as the master user, the publication, tables, grants and slot setup made; then a
login as the CDC user with the password in its secret."""

from datetime import UTC, datetime

from lambdas.dal import connections
from lambdas.dal.database import Database
from lambdas.dal.secrets import Secrets
from lambdas.logic.check import check_database
from lambdas.shared.check_models import CheckDatabaseInput, DatabaseCheck
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(CheckDatabaseInput)
def handler(state: CheckDatabaseInput) -> DatabaseCheck:
    secrets, target = Secrets(), state.target

    def as_user(secret_arn: str) -> Database:
        return connections.as_user(target, secrets, secret_arn)

    with connections.as_master(target, secrets) as db:
        result = check_database(db, secrets, state.input, target, as_user, datetime.now(UTC))
    logger.info("database checked", extra={"findings": [f.kind.value for f in result.findings]})
    return result
