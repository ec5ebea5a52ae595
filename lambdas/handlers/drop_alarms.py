"""DropAlarms: the CloudWatch alarms setup made for the target, each checked for the workflow's marker."""

from lambdas.dal.cloudwatch import Alarms
from lambdas.logic.monitoring import delete_alarms
from lambdas.shared.observability import logger
from lambdas.shared.step import step
from lambdas.shared.teardown_models import DropAlarmsInput, TeardownChanges


@step(DropAlarmsInput)
def handler(state: DropAlarmsInput) -> TeardownChanges:
    changes = delete_alarms(Alarms(), state.target)
    logger.info("alarms removed", extra={"changes": changes})
    return TeardownChanges(changes=changes)
