"""CreateAlarms: CloudWatch alarms on slot lag, WAL disk usage and free storage, on the topic."""

from lambdas.dal.cloudwatch import Alarms
from lambdas.logic.monitoring import ensure_alarms
from lambdas.shared.models import AlarmsResult, CreateAlarmsInput
from lambdas.shared.observability import logger
from lambdas.shared.settings import environment
from lambdas.shared.step import step


@step(CreateAlarmsInput)
def handler(state: CreateAlarmsInput) -> AlarmsResult:
    bound = state.parameter_group.max_slot_wal_keep_size_mb  # EnsureParameterGroup's; None: WAL left unbounded
    result = ensure_alarms(Alarms(), state.input, state.target.instance_id, environment().notification_topic_arn, bound)
    logger.info("alarms ensured", extra={"changes": result.changes})
    return result
