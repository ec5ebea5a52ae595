"""ReadTriggerTags: does the instance an EventBridge event names carry the opt-in tag, and
which settings do its tags give the execution input? (DescribeTarget then waits while a new
instance is still backing up.)"""

from __future__ import annotations

from typing import Any

from lambdas.dal.tags import RdsTags
from lambdas.shared.errors import InvalidInput
from lambdas.shared.models import SkippedOutput, TriggerEvent, TriggerResult

LIST_SETTINGS = {"schemas", "tables"}  # space-separated in the tag value: tag values allow no commas


def instance_arn(event: TriggerEvent) -> str:
    """RDS events and tag-change events both name the instance's ARN in `resources`."""
    arns = [arn for arn in [event.detail.get("SourceArn"), *event.resources] if arn and ":db:" in arn]
    if not arns:
        raise InvalidInput(f"The {event.source} event names no RDS instance (resources: {event.resources})")
    return arns[0]


def settings_from_tags(tags: dict[str, str], opt_in_key: str) -> dict[str, Any]:
    """`<opt-in key>/<setting>` tags, e.g. `streamkap:cdc/database=orders`, as input keys.
    Unknown settings are passed on, so ValidateInput rejects a typo instead of ignoring it."""
    prefix = f"{opt_in_key}/"
    settings: dict[str, Any] = {}
    for key, value in tags.items():
        if key.startswith(prefix):
            name = key.removeprefix(prefix).replace("-", "_")
            settings[name] = value.split() if name in LIST_SETTINGS else value
    return settings


def read_trigger(rds_tags: RdsTags, event: TriggerEvent, opt_in_tag: str) -> TriggerResult:
    arn = instance_arn(event)
    instance_id = arn.rpartition(":db:")[2]
    key, _, value = opt_in_tag.partition("=")
    tags = rds_tags.tags(arn)  # as they are now: the event may be older than the last tag change
    if tags.get(key) != value:
        found = f"{key}={tags[key]}" if key in tags else f"no {key} tag"
        return TriggerResult(
            instance_id=instance_id,
            opted_in=False,
            skipped=SkippedOutput(
                db_instance_identifier=instance_id,
                message=f"Instance {instance_id} has {found}; tag it {opt_in_tag} to have it set up for CDC.",
            ),
        )
    return TriggerResult(
        instance_id=instance_id,
        opted_in=True,
        input={"db_instance_identifier": instance_id, **settings_from_tags(tags, key)},
    )
