"""FindPreparedTargets: an RDS lifecycle event's target, and the check input of each database setup prepared
on it (read from its check schedule); none: not prepared by rds-cdc-setup, the check is skipped."""

from lambdas.dal.rds import Rds
from lambdas.dal.scheduler import Schedules
from lambdas.logic.schedule import prepared_inputs
from lambdas.shared.check_models import FindPreparedTargetsInput, PreparedTargets
from lambdas.shared.observability import logger
from lambdas.shared.settings import environment
from lambdas.shared.step import step


@step(FindPreparedTargetsInput)
def handler(state: FindPreparedTargetsInput) -> PreparedTargets:
    env = environment()
    event = state.model_dump()
    inputs = prepared_inputs(
        Schedules(env.check_schedule_group),
        event,
        repair=env.lifecycle_repair,
        deployment_databases=Rds().blue_green_databases,
    )
    source = state.detail.get("SourceArn") or ", ".join(state.resources) or "the event's source"
    logger.info("prepared targets found", extra={"source": source, "found": len(inputs)})
    skipped = (
        None
        if inputs
        else {
            "status": "Skipped",
            "message": f"{source} ({state.detail.get('EventID', 'an RDS event')}): not prepared by rds-cdc-setup "
            "(no check schedule in its group); nothing was read or changed",
        }
    )
    return PreparedTargets(found=len(inputs), inputs=inputs, skipped=skipped)
