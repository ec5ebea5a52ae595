"""DropCheckSchedule: the target's check schedule, deleted (none there: nothing to do)."""

from lambdas.dal.scheduler import Schedules
from lambdas.logic.schedule import drop_check_schedule
from lambdas.shared.observability import logger
from lambdas.shared.settings import environment
from lambdas.shared.step import step
from lambdas.shared.teardown_models import DropCheckScheduleInput, TeardownChanges


@step(DropCheckScheduleInput)
def handler(state: DropCheckScheduleInput) -> TeardownChanges:
    schedules = Schedules(environment().check_schedule_group)
    changes = drop_check_schedule(schedules, state.input.setup_input(), state.target)
    logger.info("check schedule removed", extra={"changes": changes})
    return TeardownChanges(changes=changes)
