"""ReleaseCheckLock: give the target's lock back on every way out of a check that took it."""

from typing import Any

from lambdas.dal.locks import Locks
from lambdas.logic.lock import give_back_for
from lambdas.shared.check_models import ReleaseCheckLockInput
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(ReleaseCheckLockInput)
def handler(release: ReleaseCheckLockInput) -> dict[str, Any]:
    released = give_back_for(Locks(), release.state.input, release.execution_arn)
    logger.info("lock released" if released else "no lock of this execution to release")
    return {"released": released}
