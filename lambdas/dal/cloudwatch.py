"""The CloudWatch port: read and write the workflow's metric alarms."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lambdas.dal.clients import client


class Alarms:
    def __init__(self, cloudwatch_client: Any | None = None) -> None:
        self._cw = cloudwatch_client or client("cloudwatch")

    def describe(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The named metric alarms that exist, as DescribeAlarms returns them."""
        found = self._cw.describe_alarms(AlarmNames=list(names), AlarmTypes=["MetricAlarm"])
        return {alarm["AlarmName"]: alarm for alarm in found["MetricAlarms"]}

    def put(self, alarm: dict[str, Any]) -> None:
        self._cw.put_metric_alarm(**alarm)

    def delete(self, names: list[str]) -> None:
        """DeleteAlarms: at most 100 names a call (the workflow deletes three)."""
        self._cw.delete_alarms(AlarmNames=list(names))
