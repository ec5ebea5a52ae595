"""AcquireTeardownLock: the lock setup takes (lambdas/logic/lock.py), taken before teardown
changes anything: setup and teardown never work on the same target at once."""

import time
from typing import Any

from lambdas.dal.locks import Executions, Locks
from lambdas.logic.lock import take_for
from lambdas.shared.observability import logger
from lambdas.shared.step import step
from lambdas.shared.teardown_models import AcquireTeardownLockInput


@step(AcquireTeardownLockInput)
def handler(state: AcquireTeardownLockInput) -> dict[str, Any]:
    setup = state.input.setup_input()
    lease = take_for(Locks(), Executions(), setup, state.execution_arn, "teardown", int(time.time()))
    logger.info("lock acquired", extra={"target": lease.target, "expires_at": lease.expires_at})
    return {"target": lease.target, "expires_at": lease.expires_at}
