"""CreateAlarms: CloudWatch alarms that warn before a stalled CDC slot fills the disk.

PutMetricAlarm overwrites, so it is idempotent anyway; the alarms are read first so that a
re-run reports (and makes) no change when they already are as wanted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambdas.dal.cloudwatch import Alarms
from lambdas.shared.errors import NotOwned
from lambdas.shared.models import AlarmsResult, SetupInput, Target
from lambdas.shared.names import ALARM_NAME_PREFIX  # the IAM policy allows alarms named so (infra/permissions.py)

METRICS = ("OldestReplicationSlotLag", "TransactionLogsDiskUsage", "FreeStorageSpace")
GIB = 1024**3
PERIOD_SECONDS = 300
EVALUATION_PERIODS = 3  # 15 minutes: a connector restart does not page anyone


@dataclass(frozen=True)
class AlarmSpec:
    metric: str
    statistic: str
    comparison: str
    threshold_gib: float
    description: str

    @property
    def summary(self) -> str:
        sign = ">" if self.comparison.startswith("Greater") else "<"
        return f"{self.metric} {sign} {self.threshold_gib:g} GiB"


def gib(mb: float) -> str:
    return f"{mb / 1024:g} GiB"


def slot_lag_threshold(setup: SetupInput, wal_keep_mb: int | None) -> tuple[float, str | None]:
    """The OldestReplicationSlotLag threshold (GiB) and, when it is not alarm_slot_lag_gib, why.

    `wal_keep_mb`: the max_slot_wal_keep_size the instance's group holds (EnsureParameterGroup's
    result; None: unbounded). A slot further behind than the bound is invalidated (its WAL removed,
    the connector needs a new snapshot), so an alarm at or above the bound fires only once the slot
    is lost: the threshold becomes half the bound, which leaves the other half to act."""
    asked = setup.alarm_slot_lag_gib
    if wal_keep_mb is None or asked * 1024 < wal_keep_mb:
        return asked, None
    half_mb = wal_keep_mb // 2
    # ValidateInput puts every field in the state, so past it model_fields_set names them all: a value
    # equal to the default is worded as the default (which it is, whoever typed it)
    default = SetupInput.model_fields["alarm_slot_lag_gib"].default
    explicit = "alarm_slot_lag_gib" in setup.model_fields_set and asked != default
    given = (
        f"alarm_slot_lag_gib {asked:g}, as given, would fire only after the slot is lost; a value below "
        f"{gib(wal_keep_mb)} is used as given"
        if explicit
        else f"alarm_slot_lag_gib {asked:g} would fire only after the slot is lost"
    )
    return half_mb / 1024, (
        f"slot-lag alarm at {gib(half_mb)}, half the {gib(wal_keep_mb)} WAL bound (max_slot_wal_keep_size): {given}"
    )


def alarm_plan(setup: SetupInput, wal_keep_mb: int | None) -> list[str]:
    """The dry run's line on the alarms: the slot-lag threshold, where it is not alarm_slot_lag_gib."""
    _, note = slot_lag_threshold(setup, wal_keep_mb)
    return [note] if note else []


def alarm_specs(setup: SetupInput, wal_keep_mb: int | None = None) -> list[AlarmSpec]:
    """`wal_keep_mb`: the WAL bound (max_slot_wal_keep_size, MB) the slot-lag threshold stays below.

    TransactionLogsDiskUsage keeps alarm_wal_disk_usage_gib, bound or not: it is all WAL on disk,
    not the slot's share. With a bound, WAL a slot holds stops there, so above it this alarm flags
    WAL kept for other reasons (archiving behind, a write burst between checkpoints); lowered to the
    bound it would page on the max_wal_size of WAL an idle slot leaves on disk anyway. The slot's
    own guard is the slot-lag alarm."""
    lag_gib, _ = slot_lag_threshold(setup, wal_keep_mb)
    return [
        AlarmSpec(
            "OldestReplicationSlotLag",
            "Maximum",
            "GreaterThanThreshold",
            lag_gib,
            f"WAL held back by the slowest replication slot ({setup.slot_name} if Streamkap's). Check the "
            "Streamkap connector; drop the slot if the connector is gone for good (README: Cleanup).",
        ),
        AlarmSpec(
            "TransactionLogsDiskUsage",
            "Maximum",
            "GreaterThanThreshold",
            setup.alarm_wal_disk_usage_gib,
            "Disk used by WAL, which an unconsumed replication slot keeps from being removed.",
        ),
        AlarmSpec(
            "FreeStorageSpace",
            "Minimum",
            "LessThanThreshold",
            setup.alarm_free_storage_gib,
            "Free storage is low: a full disk stops the database. Check slot lag and WAL usage.",
        ),
    ]


def alarm_name(instance_id: str, metric: str) -> str:
    return f"{ALARM_NAME_PREFIX}{instance_id}-{metric}"


def alarm_marker(instance_id: str) -> str:
    """How every alarm the workflow makes begins its AlarmDescription: its ownership marker."""
    return f"rds-cdc-setup, instance {instance_id}: "


def foreign_alarms(found: dict[str, dict[str, Any]], instance_id: str) -> list[str]:
    """The alarms among `found` (by name) whose description lacks the workflow's marker."""
    return sorted(
        name
        for name, alarm in found.items()
        if not str(alarm.get("AlarmDescription") or "").startswith(alarm_marker(instance_id))
    )


def desired_alarm(spec: AlarmSpec, instance_id: str, topic_arn: str | None) -> dict[str, Any]:
    """PutMetricAlarm's arguments, which are also DescribeAlarms' field names."""
    actions = [topic_arn] if topic_arn else []
    return {
        "AlarmName": alarm_name(instance_id, spec.metric),
        "AlarmDescription": f"{alarm_marker(instance_id)}{spec.description}",
        "Namespace": "AWS/RDS",
        "MetricName": spec.metric,
        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": instance_id}],
        "Statistic": spec.statistic,
        "Period": PERIOD_SECONDS,
        "EvaluationPeriods": EVALUATION_PERIODS,
        "Threshold": float(spec.threshold_gib * GIB),
        "ComparisonOperator": spec.comparison,
        "AlarmActions": actions,
        "OKActions": actions,
    }


def ensure_alarms(
    alarms: Alarms, setup: SetupInput, instance_id: str, topic_arn: str | None, wal_keep_mb: int | None = None
) -> AlarmsResult:
    """`wal_keep_mb`: the instance's max_slot_wal_keep_size (MB; None: unbounded), see slot_lag_threshold."""
    specs = {spec.metric: spec for spec in alarm_specs(setup, wal_keep_mb)}
    _, lag_note = slot_lag_threshold(setup, wal_keep_mb)
    desired = [desired_alarm(spec, instance_id, topic_arn) for spec in specs.values()]
    current = alarms.describe(alarm["AlarmName"] for alarm in desired)
    foreign = foreign_alarms(current, instance_id)
    if foreign:
        raise NotOwned(
            f"CloudWatch alarm(s) {', '.join(foreign)} carry the workflow's names but not its marker (an "
            f"AlarmDescription starting {alarm_marker(instance_id).strip()!r}): someone else made them, and "
            "PutMetricAlarm would overwrite them. Rename or delete them, then start the execution again"
        )
    changes = []
    for alarm in desired:
        existing = current.get(alarm["AlarmName"])
        if existing is not None and all(existing.get(key) == value for key, value in alarm.items()):
            continue
        alarms.put(alarm)
        verb = "created" if existing is None else "updated"
        changes.append(f"{verb} alarm {alarm['AlarmName']} ({specs[alarm['MetricName']].summary})")
        if alarm["MetricName"] == "OldestReplicationSlotLag" and lag_note:
            changes.append(lag_note)
    return AlarmsResult(alarms=[alarm["AlarmName"] for alarm in desired], changes=changes)


def alarms_to_delete(alarms: Alarms, target: Target) -> list[str]:
    """The alarms setup made for the target (Aurora: named after the writer it had then, which is the
    target's instance); an alarm with one of those names that lacks the marker is refused (NotOwned)."""
    if target.self_managed:
        return []  # setup makes no alarms for a self-managed server
    names = [alarm_name(target.instance_id, metric) for metric in METRICS]
    found = alarms.describe(names)
    foreign = foreign_alarms(found, target.instance_id)
    if foreign:
        raise NotOwned(
            f"CloudWatch alarm(s) {', '.join(sorted(foreign))} carry the workflow's names but not its marker "
            f"(an AlarmDescription starting {alarm_marker(target.instance_id).strip()!r}): someone else made "
            "them, so the teardown leaves them. Delete them yourself if they are no longer wanted; nothing was removed"
        )
    return [name for name in names if name in found]


def delete_alarms(alarms: Alarms, target: Target) -> list[str]:
    names = alarms_to_delete(alarms, target)
    if names:
        alarms.delete(names)
    return [f"delete alarm {name}" for name in names]
