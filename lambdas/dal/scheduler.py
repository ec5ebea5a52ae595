"""The EventBridge Scheduler port: the check schedules, in the deployment's schedule group only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambdas.dal.clients import client


@dataclass(frozen=True)
class Schedule:
    name: str
    expression: str
    state: str  # ENABLED | DISABLED
    target_arn: str
    role_arn: str
    input: str  # the check's execution input, JSON


class Schedules:
    def __init__(self, group: str, scheduler_client: Any | None = None) -> None:
        self.group = group
        self._scheduler = scheduler_client or client("scheduler")

    def get(self, name: str) -> Schedule | None:
        try:
            found = self._scheduler.get_schedule(GroupName=self.group, Name=name)
        except self._scheduler.exceptions.ResourceNotFoundException:
            return None
        target = found["Target"]
        return Schedule(
            name=found["Name"],
            expression=found["ScheduleExpression"],
            state=found.get("State", "ENABLED"),
            target_arn=target["Arn"],
            role_arn=target["RoleArn"],
            input=target.get("Input", ""),
        )

    def names(self, prefix: str) -> list[str]:
        """The group's schedules whose name starts with `prefix` (filtered here too: not every
        implementation honours NamePrefix)."""
        names: list[str] = []
        token = None
        while True:
            page = self._scheduler.list_schedules(
                GroupName=self.group, NamePrefix=prefix, **({"NextToken": token} if token else {})
            )
            names += [s["Name"] for s in page["Schedules"] if s["Name"].startswith(prefix)]
            token = page.get("NextToken")
            if not token:
                return sorted(names)

    def put(self, schedule: Schedule, *, exists: bool) -> None:
        """Create it, or update it in place (UpdateSchedule replaces every setting)."""
        call = self._scheduler.update_schedule if exists else self._scheduler.create_schedule
        call(
            GroupName=self.group,
            Name=schedule.name,
            ScheduleExpression=schedule.expression,
            State=schedule.state,
            FlexibleTimeWindow={"Mode": "OFF"},
            Description="rds-cdc-setup: the check of a target setup prepared (the record of it, too)",
            Target={"Arn": schedule.target_arn, "RoleArn": schedule.role_arn, "Input": schedule.input},
        )

    def delete(self, name: str) -> bool:
        """False when there was none."""
        try:
            self._scheduler.delete_schedule(GroupName=self.group, Name=name)
        except self._scheduler.exceptions.ResourceNotFoundException:
            return False
        return True
