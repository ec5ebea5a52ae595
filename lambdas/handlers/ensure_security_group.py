"""EnsureSecurityGroup: the workflow's security group admitting exactly allow_cidrs, on the target."""

from lambdas.dal.rds import Rds
from lambdas.dal.security_groups import SecurityGroups
from lambdas.logic.security_group import ensure_security_group
from lambdas.shared.models import EnsureSecurityGroupInput, SecurityGroupResult
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(EnsureSecurityGroupInput)
def handler(state: EnsureSecurityGroupInput) -> SecurityGroupResult:
    result = ensure_security_group(Rds(), SecurityGroups(), state.target, state.input)
    logger.info("security group ensured", extra={"changes": result.changes, "warnings": result.warnings})
    return result
