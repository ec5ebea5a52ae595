"""CreateAlarms over a fake CloudWatch port: the three alarms, thresholds, idempotency."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from lambdas.logic.monitoring import GIB, ensure_alarms
from lambdas.shared.models import SetupInput

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
