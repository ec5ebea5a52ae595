"""ReleaseTeardownLock: give the target's lock back on every way out of teardown, success or failure."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from lambdas.dal.locks import Locks
from lambdas.logic.lock import give_back_for
from lambdas.shared.observability import logger, tracer
from lambdas.shared.teardown_models import TeardownInput


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        setup = TeardownInput.model_validate((event.get("state") or {}).get("input")).setup_input()
    except ValidationError:
        setup = None
    released = give_back_for(Locks(), setup, event["execution_arn"])
    logger.info("lock released" if released else "no lock of this execution to release")
    return {"released": released}
