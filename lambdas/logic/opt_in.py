"""ReadTriggerTags: does the instance or Aurora cluster an EventBridge event names carry the
opt-in tag, and which settings do its tags give the execution input? (DescribeTarget then waits
while a new instance is still backing up; a new cluster without a writer is waited for here.)

The event names the target; tags only tune the run on it. Anyone who may tag one instance must
not be able to point the workflow at another one, at a host, or at a secret, user, role or object
name, nor opt into adopting objects or rotating a password: a `<opt-in key>/<setting>` tag outside
TAG_SETTINGS fails the execution here (InvalidInput naming the tag), before anything is described
or changed. Those inputs exist only for a start by hand, by whoever may start the workflow."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from lambdas.dal.tags import RdsTags
from lambdas.logic.reboot import max_polls
from lambdas.shared.errors import InvalidInput, TargetNotAvailable
from lambdas.shared.models import ReadTriggerTagsInput, SetupInput, SkippedOutput, TriggerResult

# What a tag on the target may set: how the run behaves on the instance or cluster the event
# names. Never the target itself (db_instance_identifier, db_cluster_identifier, host, port),
# a secret (master_secret_arn), a user/role/publication/slot/schema name (they would point the
# run at someone else's objects, e.g. the master user), the ownership opt-ins (adopt,
# rotate_password), publication_mode (all_tables publishes every table of the database), network access
# (allow_cidrs, allow_public_cidrs), dry_run, failover_slot (it alters an existing slot and sets
# hot_standby_feedback for replicas), or the Streamkap API's secret and URL (the URL would receive
# the database password): tagging a resource must not widen what the workflow may touch, nor who may reach
# the database.
TAG_SETTINGS = frozenset(
    {
        "database",
        "schemas",
        "tables",
        "reboot",
        "replica_identity",
        "heartbeat",
        "poll_seconds",
        "max_wait_minutes",
        "alarm_slot_lag_gib",
        "alarm_wal_disk_usage_gib",
        "alarm_free_storage_gib",
        "max_slot_wal_keep_size_mb",
    }
)
LIST_SETTINGS = {"schemas", "tables"}  # space-separated in the tag value: tag values allow no commas
# arn:<partition>:rds:<region>:<account>:db:<id> (an instance) or ...:cluster:<id> (Aurora)
RDS_ARN = re.compile(
    r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:(?P<kind>db|cluster):(?P<identifier>[A-Za-z][A-Za-z0-9-]*)$"
)


@dataclass(frozen=True)
class EventTarget:
    arn: str
    kind: str  # "db" (an instance) or "cluster" (an Aurora cluster), as in the ARN
    identifier: str

    @property
    def is_cluster(self) -> bool:
        return self.kind == "cluster"

    @property
    def input_key(self) -> str:
        return "db_cluster_identifier" if self.is_cluster else "db_instance_identifier"

    @property
    def described(self) -> str:
        return f"{'Aurora cluster' if self.is_cluster else 'Instance'} {self.identifier}"


def event_target(event: ReadTriggerTagsInput) -> EventTarget:
    """RDS events name their instance or cluster in SourceArn and `resources`, tag changes in `resources`."""
    source = event.detail.get("SourceArn")
    for arn in ([source] if isinstance(source, str) else []) + event.resources:
        match = RDS_ARN.match(arn)
        if match:
            return EventTarget(arn=arn, kind=match["kind"], identifier=match["identifier"])
    raise InvalidInput(
        f"The {event.source} event names no RDS instance or Aurora cluster (resources: {event.resources})"
    )


def settings_from_tags(tags: dict[str, str], opt_in_key: str) -> dict[str, Any]:
    """`<opt-in key>/<setting>` tags, e.g. `streamkap:cdc/database=orders`, as input keys (hyphens
    or underscores). A setting outside TAG_SETTINGS, a typo included, is InvalidInput naming the tags."""
    prefix = f"{opt_in_key}/"
    settings: dict[str, Any] = {}
    refused: list[str] = []
    for key, value in tags.items():
        if key.startswith(prefix):
            name = key.removeprefix(prefix).replace("-", "_")
            if name not in TAG_SETTINGS:
                refused.append(key)
            else:
                settings[name] = value.split() if name in LIST_SETTINGS else value
    if refused:
        allowed = ", ".join(sorted(name.replace("_", "-") for name in TAG_SETTINGS))
        raise InvalidInput(
            f"Refused setting tags: {', '.join(sorted(refused))}. The event names the instance or cluster; "
            f"tags may set only {prefix}<setting> for: {allowed}. Remove the refused tags: a target, host, "
            "port, secret, user, role or object name, adopt, rotate_password or dry_run is given only "
            "when starting the workflow by hand; nothing was changed."
        )
    return settings


def skipped(target: EventTarget, message: str, cluster_id: str | None = None) -> TriggerResult:
    instance_id = None if target.is_cluster else target.identifier
    cluster_id = target.identifier if target.is_cluster else cluster_id
    return TriggerResult(
        instance_id=instance_id,
        cluster_id=cluster_id,
        opted_in=False,
        skipped=SkippedOutput(db_instance_identifier=instance_id, db_cluster_identifier=cluster_id, message=message),
    )


def read_trigger(rds_tags: RdsTags, event: ReadTriggerTagsInput, opt_in_tag: str) -> TriggerResult:
    target = event_target(event)
    key, _, value = opt_in_tag.partition("=")
    if not target.is_cluster:
        # Aurora is set up per cluster (cluster parameter group, writer found at run time):
        # an instance setup on a member would change the wrong parameter group.
        cluster_id = rds_tags.instance_cluster(target.identifier)
        if cluster_id:
            cluster_arn = target.arn.replace(f":db:{target.identifier}", f":cluster:{cluster_id}")
            return skipped(
                target,
                f"Instance {target.identifier} is a member of the Aurora cluster {cluster_id}, which is set up "
                f"as a whole, not per instance. Tag the cluster ({cluster_arn}) {opt_in_tag} to have it set up "
                f"for CDC, or start the workflow with db_cluster_identifier {cluster_id}.",
                cluster_id=cluster_id,
            )
    tags = rds_tags.tags(target.arn)  # as they are now: the event may be older than the last tag change
    if tags.get(key) != value:
        found = f"{key}={tags[key]}" if key in tags else f"no {key} tag"
        return skipped(target, f"{target.described} has {found}; tag it {opt_in_tag} to have it set up for CDC.")
    setup_input = {**settings_from_tags(tags, key), target.input_key: target.identifier}  # the event's target wins
    if target.is_cluster and not rds_tags.cluster_has_writer(target.identifier):
        return wait_for_writer(target, event, setup_input)
    return TriggerResult(
        instance_id=None if target.is_cluster else target.identifier,
        cluster_id=target.identifier if target.is_cluster else None,
        opted_in=True,
        input=setup_input,
    )


def wait_for_writer(target: EventTarget, event: ReadTriggerTagsInput, setup_input: dict[str, Any]) -> TriggerResult:
    """RDS-EVENT-0170 comes when the cluster exists, before its writer instance does: wait for it
    (poll_seconds, up to max_wait_minutes, from the tags or the defaults) instead of failing."""
    try:
        setup = SetupInput.model_validate(setup_input)
    except ValidationError:  # go on: ValidateInput names the bad setting tag
        return TriggerResult(cluster_id=target.identifier, opted_in=True, input=setup_input)
    attempt = event.trigger.attempt + 1 if event.trigger else 1
    if attempt > max_polls(setup):
        raise TargetNotAvailable(
            f"Aurora cluster {target.identifier} still has no writer instance after {setup.max_wait_minutes} "
            f"minutes; add one (create-db-instance --db-cluster-identifier {target.identifier}) and start "
            f"the workflow with db_cluster_identifier {target.identifier}"
        )
    return TriggerResult(
        cluster_id=target.identifier,
        opted_in=True,
        input=setup_input,
        waiting_for_writer=True,
        poll_seconds=setup.poll_seconds,
        attempt=attempt,
    )
