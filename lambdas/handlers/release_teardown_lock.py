"""ReleaseTeardownLock: give the target's lock back on every way out of teardown, success or failure."""

from typing import Any

from lambdas.dal.locks import Locks
from lambdas.logic.lock import give_back_for
from lambdas.shared.observability import logger
from lambdas.shared.step import step
from lambdas.shared.teardown_models import ReleaseTeardownLockInput


@step(ReleaseTeardownLockInput)
def handler(release: ReleaseTeardownLockInput) -> dict[str, Any]:
    released = give_back_for(Locks(), release.state.input.setup_input(), release.execution_arn)
    logger.info("lock released" if released else "no lock of this execution to release")
    return {"released": released}
