"""EnsureCheckSchedule: the target's check schedule (EventBridge Scheduler), created or updated with this run."""

from lambdas.dal.scheduler import Schedules
from lambdas.logic.schedule import ensure_check_schedule, schedule_name, too_long_for_a_schedule
from lambdas.shared.models import CheckScheduleResult, EnsureCheckScheduleInput
from lambdas.shared.observability import logger
from lambdas.shared.settings import environment
from lambdas.shared.step import step


@step(EnsureCheckScheduleInput)
def handler(state: EnsureCheckScheduleInput) -> CheckScheduleResult:
    env = environment()
    changes = ensure_check_schedule(Schedules(env.check_schedule_group), state.input, state.target, env)
    logger.info("check schedule ensured", extra={"changes": changes})
    too_long = too_long_for_a_schedule(state.input, state.target)
    return CheckScheduleResult(
        name=schedule_name(state.input, state.target), changes=changes, warnings=[too_long] if too_long else []
    )
