"""PublishFindings: the check's findings as CloudWatch metrics (one per kind, zeros included) and, when
they changed since the target's last check, one notification; the new fingerprint only after it."""

import time

from lambdas.dal.findings import FindingMetrics, FindingRecords
from lambdas.dal.notifications import notify
from lambdas.logic.publish_findings import publish_findings
from lambdas.shared.check_models import PublishFindingsInput, PublishResult
from lambdas.shared.observability import logger
from lambdas.shared.step import step


@step(PublishFindingsInput)
def handler(state: PublishFindingsInput) -> PublishResult:
    result = publish_findings(
        state.report,
        state.execution_arn,
        metrics=FindingMetrics(),
        records=FindingRecords(),
        notify=notify,
        now=int(time.time()),
    )
    logger.info(
        "findings published",
        extra={"changed": result.changed, "notified": result.notified, "appeared": len(result.appeared)},
    )
    return result
