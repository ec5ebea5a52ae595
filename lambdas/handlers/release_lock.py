"""ReleaseLock: give the target's lock back on every way out of setup, success or failure.
Only this execution's: after ConcurrentExecution the other execution's lock stays held."""

from typing import Any

from lambdas.dal.locks import Locks
from lambdas.logic.lock import give_back_for
from lambdas.shared.models import ReleaseLockInput
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(ReleaseLockInput)
def handler(release: ReleaseLockInput) -> dict[str, Any]:
    released = give_back_for(Locks(), release.state.input, release.execution_arn)
    logger.info("lock released" if released else "no lock of this execution to release")
    return {"released": released}
