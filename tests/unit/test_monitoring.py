"""CreateAlarms over a fake CloudWatch port: the three alarms, thresholds, idempotency."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from lambdas.logic.monitoring import GIB, METRICS, delete_alarms, ensure_alarms
from lambdas.shared.errors import NotOwned
from lambdas.shared.models import SetupInput, Target

TOPIC = "arn:aws:sns:us-east-1:123456789012:rds-cdc-setup"


class FakeAlarms:
    def __init__(self) -> None:
        self.alarms: dict[str, dict[str, Any]] = {}
        self.puts: list[str] = []

    def describe(self, names):
        # DescribeAlarms adds fields of its own (ARN, state) to what was put
        return {n: {**self.alarms[n], "AlarmArn": f"arn:{n}", "StateValue": "OK"} for n in names if n in self.alarms}

    def put(self, alarm):
        self.puts.append(alarm["AlarmName"])
        self.alarms[alarm["AlarmName"]] = dict(alarm)


def setup(**kwargs: Any) -> SetupInput:
    return SetupInput(db_instance_identifier="orders-prod", **kwargs)


def test_three_alarms_with_the_default_thresholds_notify_the_topic():
    cloudwatch = FakeAlarms()

    result = ensure_alarms(cloudwatch, setup(), "orders-prod", TOPIC)

    by_metric = {a["MetricName"]: a for a in cloudwatch.alarms.values()}
    assert {m: (a["Threshold"] / GIB, a["ComparisonOperator"], a["Statistic"]) for m, a in by_metric.items()} == {
        "OldestReplicationSlotLag": (5, "GreaterThanThreshold", "Maximum"),
        "TransactionLogsDiskUsage": (10, "GreaterThanThreshold", "Maximum"),
        "FreeStorageSpace": (5, "LessThanThreshold", "Minimum"),
    }
    for alarm in by_metric.values():
        assert alarm["Namespace"] == "AWS/RDS"
        assert alarm["Dimensions"] == [{"Name": "DBInstanceIdentifier", "Value": "orders-prod"}]
        assert alarm["AlarmActions"] == alarm["OKActions"] == [TOPIC]
        assert alarm["AlarmName"].startswith("rds-cdc-setup-orders-prod-")
    assert result.alarms == list(cloudwatch.alarms)
    assert [c.split(" (")[0] for c in result.changes] == [f"created alarm {n}" for n in cloudwatch.alarms]


def test_a_rerun_puts_nothing_and_a_changed_threshold_updates_only_its_alarm():
    cloudwatch = FakeAlarms()
    ensure_alarms(cloudwatch, setup(), "orders-prod", TOPIC)
    cloudwatch.puts.clear()

    unchanged = ensure_alarms(cloudwatch, setup(), "orders-prod", TOPIC)
    assert unchanged.changes == [] and cloudwatch.puts == []

    changed = ensure_alarms(cloudwatch, setup(alarm_slot_lag_gib=0.5), "orders-prod", TOPIC)
    assert changed.changes == [
        "updated alarm rds-cdc-setup-orders-prod-OldestReplicationSlotLag (OldestReplicationSlotLag > 0.5 GiB)"
    ]
    assert cloudwatch.puts == ["rds-cdc-setup-orders-prod-OldestReplicationSlotLag"]


def test_without_a_topic_the_alarms_have_no_actions():
    cloudwatch = FakeAlarms()
    ensure_alarms(cloudwatch, setup(), "orders-prod", None)
    assert all(a["AlarmActions"] == [] for a in cloudwatch.alarms.values())


@pytest.mark.parametrize(
    "bad", [{"alarm_slot_lag_gib": 0}, {"alarm_free_storage_gib": -1}, {"max_slot_wal_keep_size_mb": 64}]
)
def test_thresholds_must_be_positive_and_the_wal_guard_at_least_a_gib(bad: dict[str, Any]):
    with pytest.raises(ValidationError):
        setup(**bad)


class DeletingAlarms(FakeAlarms):
    def __init__(self) -> None:
        super().__init__()
        self.deleted: list[str] = []

    def delete(self, names):
        self.deleted += names
        for name in names:
            self.alarms.pop(name)


def target(**kwargs: Any) -> Target:
    values = dict(instance_id="orders-prod", engine="postgres", engine_version="15.4", major_version=15,
                  status="available", parameter_group="g", parameter_group_family="postgres15",
                  parameter_apply_status="in-sync", host="h", port=5432, database="orders",
                  master_secret_arn="arn:secret")  # fmt: skip
    return Target(**{**values, **kwargs})


def test_teardown_deletes_the_alarms_setup_made_and_nothing_once_they_are_gone():
    cloudwatch = DeletingAlarms()
    ensure_alarms(cloudwatch, setup(), "orders-prod", TOPIC)
    ensure_alarms(cloudwatch, setup(), "orders-prod-2", TOPIC)  # another instance, a longer name

    changes = delete_alarms(cloudwatch, target())

    assert sorted(changes) == sorted(f"delete alarm rds-cdc-setup-orders-prod-{m}" for m in METRICS)
    assert all(name.startswith("rds-cdc-setup-orders-prod-2-") for name in cloudwatch.alarms)
    assert delete_alarms(cloudwatch, target()) == []


def test_an_alarm_with_our_name_without_our_marker_is_refused_before_any_is_deleted():
    cloudwatch = DeletingAlarms()
    ensure_alarms(cloudwatch, setup(), "orders-prod", TOPIC)
    cloudwatch.alarms["rds-cdc-setup-orders-prod-FreeStorageSpace"]["AlarmDescription"] = "the DBA's own"

    with pytest.raises(NotOwned, match="rds-cdc-setup-orders-prod-FreeStorageSpace"):
        delete_alarms(cloudwatch, target())
    assert cloudwatch.deleted == []


def test_a_self_managed_server_has_no_alarms_to_delete():
    assert delete_alarms(DeletingAlarms(), target(self_managed=True)) == []


def test_setup_refuses_to_overwrite_an_alarm_with_our_name_that_someone_else_made():
    # Given the DBA's own alarm under the name CreateAlarms would use
    cloudwatch = FakeAlarms()
    theirs = {"AlarmName": "rds-cdc-setup-orders-prod-FreeStorageSpace", "AlarmDescription": "the DBA's own"}
    cloudwatch.alarms[theirs["AlarmName"]] = dict(theirs)

    # Then CreateAlarms puts none of the three (PutMetricAlarm would replace it) and names it
    with pytest.raises(NotOwned, match="rds-cdc-setup-orders-prod-FreeStorageSpace"):
        ensure_alarms(cloudwatch, setup(), "orders-prod", TOPIC)
    assert cloudwatch.puts == []
    assert cloudwatch.alarms == {theirs["AlarmName"]: theirs}
