"""CheckParameters: the parameter group and the instance as RDS reports them, against setup's plan."""

from lambdas.dal.rds import Rds
from lambdas.logic.check import check_parameters
from lambdas.shared.check_models import CheckParametersInput, ParameterCheck
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(CheckParametersInput)
def handler(state: CheckParametersInput) -> ParameterCheck:
    result = check_parameters(Rds(), state.target, state.input)
    logger.info("parameters checked", extra={"findings": [f.kind.value for f in result.findings]})
    return result
