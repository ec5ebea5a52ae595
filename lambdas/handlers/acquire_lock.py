"""AcquireLock: take the target's lock before setup changes anything, or stop with
ConcurrentExecution naming the execution that holds it (lambdas/logic/lock.py)."""

import time
from typing import Any

from lambdas.dal.locks import Executions, Locks
from lambdas.logic.lock import take_for
from lambdas.shared.models import AcquireLockInput
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(AcquireLockInput)
def handler(state: AcquireLockInput) -> dict[str, Any]:
    lease = take_for(Locks(), Executions(), state.input, state.execution_arn, "setup", int(time.time()))
    logger.info("lock acquired", extra={"target": lease.target, "expires_at": lease.expires_at})
    return {"target": lease.target, "expires_at": lease.expires_at}
