"""CreateAlarms: CloudWatch alarms on slot lag, WAL disk usage and free storage, on the topic."""

from lambdas.dal.cloudwatch import Alarms
from lambdas.logic.monitoring import ensure_alarms
from lambdas.shared.models import AlarmsResult, WorkflowState
from lambdas.shared.observability import logger
from lambdas.shared.settings import environment
from lambdas.shared.step import step


@step(WorkflowState)
def handler(state: WorkflowState) -> AlarmsResult:
    state.require("target")
    # EnsureParameterGroup's bound; None where it did not run (self-managed: no alarms anyway) or left WAL unbounded
    bound = state.parameter_group.max_slot_wal_keep_size_mb if state.parameter_group else None
    result = ensure_alarms(Alarms(), state.input, state.target.instance_id, environment().notification_topic_arn, bound)
    logger.info("alarms ensured", extra={"changes": result.changes})
    return result
