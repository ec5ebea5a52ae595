"""CheckRebootStatus: available, parameter group in-sync and wal_level=logical?"""

from lambdas.dal import connections, sql
from lambdas.dal.rds import Rds
from lambdas.dal.secrets import Secrets
from lambdas.logic.reboot import check_reboot
from lambdas.shared.models import CheckRebootStatusInput, RebootStatus
from lambdas.shared.observability import logger
from lambdas.shared.step import step


# RebootWaitPolls: the status checks it took until the target was ready (none while it still waits)
@step(CheckRebootStatusInput, measure=lambda status: {"RebootWaitPolls": status.attempt} if status.ready else {})
def handler(state: CheckRebootStatusInput) -> RebootStatus:
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
        rebooted=bool(state.reboot.changes),
        previous_reboots=previous.reboots if previous else 0,
    )
    if status.waiting_because:
        logger.warning(status.waiting_because)
    logger.info("reboot status", extra=status.model_dump())
    return status
