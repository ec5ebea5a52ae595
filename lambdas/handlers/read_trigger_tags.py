"""ReadTriggerTags: for an EventBridge start, the instance's or Aurora cluster's opt-in tag and its tagged
settings. A setting tag outside the allow-list (lambdas/logic/opt_in.py TAG_SETTINGS) fails here as
InvalidInput, before any state that describes or changes the target."""

from lambdas.dal.tags import RdsTags
from lambdas.logic.opt_in import read_trigger
from lambdas.shared.models import ReadTriggerTagsInput, TriggerResult
from lambdas.shared.observability import logger
from lambdas.shared.settings import environment
from lambdas.shared.step import step


# exclude_none: the Skipped output names only the instance or the cluster, as the input would
@step(ReadTriggerTagsInput, exclude_none=True)
def handler(trigger: ReadTriggerTagsInput) -> TriggerResult:
    result = read_trigger(RdsTags(), trigger, environment().opt_in_tag)
    logger.info(
        "trigger read",
        extra={
            "source": trigger.source,
            "instance": result.instance_id,
            "cluster": result.cluster_id,
            "opted_in": result.opted_in,
            "waiting_for_writer": result.waiting_for_writer,
        },
    )
    return result
