"""AcquireCheckLock: the lock setup and teardown take (lambdas/logic/lock.py), before a check that
publishes or repairs changes anything."""

import time
from typing import Any

from lambdas.dal.locks import Executions, Locks
from lambdas.logic.lock import take_for
from lambdas.shared.check_models import AcquireCheckLockInput
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(AcquireCheckLockInput)
def handler(state: AcquireCheckLockInput) -> dict[str, Any]:
    lease = take_for(Locks(), Executions(), state.input, state.execution_arn, "check", int(time.time()))
    logger.info("lock acquired", extra={"target": lease.target, "expires_at": lease.expires_at})
    return {"target": lease.target, "expires_at": lease.expires_at}
