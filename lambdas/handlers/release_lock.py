"""ReleaseLock: give the target's lock back on every way out of setup, success or failure.
Only this execution's: after ConcurrentExecution the other execution's lock stays held."""

from typing import Any

from pydantic import ValidationError

from lambdas.dal.locks import Locks
from lambdas.logic.lock import give_back_for
from lambdas.shared.models import SetupInput
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step()
def handler(event: dict[str, Any]) -> dict[str, Any]:
    # The whole state: a failure path may lack what the success path has.
    try:
        setup = SetupInput.model_validate((event.get("state") or {}).get("input"))
    except ValidationError:
        setup = None
    released = give_back_for(Locks(), setup, event["execution_arn"])
    logger.info("lock released" if released else "no lock of this execution to release")
    return {"released": released}
