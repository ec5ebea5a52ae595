"""ConfirmSourceStreaming: as the CDC user, a heartbeat, then the slot confirmed past it by the
connector of the source RegisterSource registered."""

from lambdas.dal import connections
from lambdas.dal.secrets import Secrets
from lambdas.logic.register import confirm_streaming
from lambdas.shared.models import ConfirmSourceStreamingInput, SourceStreaming
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(ConfirmSourceStreamingInput)
def handler(state: ConfirmSourceStreamingInput) -> SourceStreaming:
    with connections.as_user(state.target, Secrets(), state.configure.secret_arn) as db:
        result = confirm_streaming(db, state.input)
    logger.info("source streams", extra=result.model_dump())
    return result
