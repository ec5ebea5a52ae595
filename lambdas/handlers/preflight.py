"""Preflight: server checks as the master user and the plan of changes (dry_run stops after it)."""

from lambdas.dal import connections
from lambdas.dal.secrets import Secrets
from lambdas.logic.preflight import preflight
from lambdas.shared.models import PreflightInput, PreflightResult
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(PreflightInput)
def handler(state: PreflightInput) -> PreflightResult:
    secrets = Secrets()
    with connections.as_master(state.target, secrets) as db:
        result = preflight(db, secrets, state.input, state.target)
    logger.info("plan made", extra={"plan": result.plan})
    return result
