"""Verify: log in as the new user, check the publication and peek the slot (bounded, never consuming)."""

from lambdas.dal import connections
from lambdas.dal.secrets import Secrets
from lambdas.logic.verify import verify
from lambdas.shared.models import VerifyInput, VerifyResult
from lambdas.shared.observability import logger
from lambdas.shared.step import step


# How the slot was proven to stream: a bounded peek, or a live connector's progress (a failure raises: Failures)
@step(
    VerifyInput,
    measure=lambda result: {"VerifiedByPeek": int(result.proof == "peek"), "VerifiedLive": int(result.proof == "live")},
)
def handler(state: VerifyInput) -> VerifyResult:
    with connections.as_user(state.target, Secrets(), state.configure.secret_arn) as db:
        result = verify(db, state.input, state.configure)
    logger.info("verified", extra=result.model_dump())
    return result
