"""DropSecurityGroup: the security group setup made for allow_cidrs, detached from the target and deleted."""

from lambdas.dal.rds import Rds
from lambdas.dal.security_groups import SecurityGroups
from lambdas.logic.security_group import drop_security_group
from lambdas.shared.observability import logger
from lambdas.shared.step import step
from lambdas.shared.teardown_models import DropSecurityGroupInput, TeardownChanges


@step(DropSecurityGroupInput)
def handler(state: DropSecurityGroupInput) -> TeardownChanges:
    changes = drop_security_group(Rds(), SecurityGroups(), state.input, state.target)
    logger.info("security group removed", extra={"changes": changes})
    return TeardownChanges(changes=changes)
