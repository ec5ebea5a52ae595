"""CheckRebootStatus: available, parameter group in-sync and wal_level=logical?"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dal import connections, sql
from lambdas.dal.rds import Rds
from lambdas.dal.secrets import Secrets
from lambdas.logic.reboot import check_reboot
from lambdas.shared.models import WorkflowState
from lambdas.shared.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = WorkflowState.model_validate(event)
    state.require("target")
    target = state.target

    def read_wal_level() -> str:
        with connections.as_master(target, Secrets()) as db:
            return sql.wal_level(db)

    previous = state.reboot_status
    status = check_reboot(
        Rds(),
        state.input,
        target.instance_id,
        previous.attempt if previous else 0,
        read_wal_level,
        target.cluster_id,
        rebooted=bool(state.reboot and state.reboot.changes),
        previous_reboots=previous.reboots if previous else 0,
    )
    if status.waiting_because:
        logger.warning(status.waiting_because)
    logger.info("reboot status", extra=status.model_dump())
    return status.model_dump(mode="json")
