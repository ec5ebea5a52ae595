"""SummarizeMember: one instance's setup outcome, cut down to what the fleet summary shows, so the
Map's results stay small (a setup's output may hold a tables CSV of up to 80 KiB)."""

from lambdas.logic.fleet import member_result
from lambdas.shared.fleet_models import MemberResult, SummarizeMemberInput
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(SummarizeMemberInput, exclude_none=True)
def handler(item: SummarizeMemberInput) -> MemberResult:
    result = member_result(item)
    logger.info("fleet member", extra={"instance": result.db_instance_identifier, "status": result.status})
    return result
