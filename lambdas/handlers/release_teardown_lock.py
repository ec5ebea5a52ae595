"""ReleaseTeardownLock: give the target's lock back on every way out of teardown, success or failure."""

from typing import Any

from pydantic import ValidationError

from lambdas.dal.locks import Locks
from lambdas.logic.lock import give_back_for
from lambdas.shared.observability import logger
from lambdas.shared.step import step
from lambdas.shared.teardown_models import TeardownInput


@step()
def handler(event: dict[str, Any]) -> dict[str, Any]:
    try:
        setup = TeardownInput.model_validate((event.get("state") or {}).get("input")).setup_input()
    except ValidationError:
        setup = None
    released = give_back_for(Locks(), setup, event["execution_arn"])
    logger.info("lock released" if released else "no lock of this execution to release")
    return {"released": released}
