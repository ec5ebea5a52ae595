"""The check schedules and the RDS lifecycle rules (issue 16).

- One EventBridge Scheduler schedule group, `rds-cdc-check`: setup's EnsureCheckSchedule puts one schedule
  per prepared target in it (lambdas/logic/schedule.py), teardown's DropCheckSchedule deletes it. The group
  is the template's and only the workflow's functions may write in it, so a schedule in it is the
  workflow's by construction; their grants name the group's schedules only (infra/steps.py).
- The role Scheduler assumes to run a schedule: it may start the check state machine and nothing else,
  and only Scheduler of this account, for a schedule of this group, may assume it.
- EventBridge rules on the RDS events after which a slot or publication may be gone start the check at
  once; its first state (statemachine/cdc_check.asl.json) finds the target's schedules and checks what
  setup made, or ends Skipped for a target setup did not prepare.

The check state machine is named by its fixed name (an ARN built from it), so that the setup workflow's
functions, made before it, can be given the ARN."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.functions import arn
from lambdas.shared.names import CHECK_SCHEDULE_GROUP
from lambdas.shared.steps import Workflow

CHECK_STATE_MACHINE_NAME = Workflow.CHECK.state_machine_name
GROUP_SCHEDULES = f"schedule/{CHECK_SCHEDULE_GROUP}/*"

# The RDS events after which the slot or publication setup made may be gone or stale (Amazon RDS User
# Guide, "Amazon RDS event categories and event messages", USER_Events.Messages; Aurora User Guide, same):
# - DB instance, category failover: RDS-EVENT-0015 (a Multi-AZ failover promoting the standby is complete),
#   RDS-EVENT-0049 (a Multi-AZ failover has completed), RDS-EVENT-0051 (Multi-AZ activation complete).
# - DB cluster, category failover: RDS-EVENT-0071 (a failover for the DB cluster has finished);
#   category global failover: RDS-EVENT-0185 (global database failover finished on the primary cluster).
# - DB instance, category restoration: RDS-EVENT-0019 (restored from a point-in-time backup),
#   RDS-EVENT-0043 (restored from a DB snapshot): a restored instance under a prepared target's name.
# - DB instance, category maintenance: RDS-EVENT-0268 (the engine version upgrade finished; a major version
#   upgrade drops every logical slot); DB cluster: RDS-EVENT-0268 likewise for Aurora. (The event table's
#   0264-0270 rows: pre-check, downtime, upgrade started, finished, post-upgrade tasks, failed and rolled back.)
# - Blue/green deployment, category notification (detail-type "RDS Blue Green Deployment Event"):
#   RDS-EVENT-0248 (switchover completed on blue/green deployment), RDS-EVENT-0251 (switchover from primary
#   source to target completed and databases renamed): the green database took the prepared target's name,
#   without its slot.
INSTANCE_EVENTS = {
    "failover": ("RDS-EVENT-0015", "RDS-EVENT-0049", "RDS-EVENT-0051"),
    "restoration": ("RDS-EVENT-0019", "RDS-EVENT-0043"),
    "maintenance": ("RDS-EVENT-0268",),
}
CLUSTER_EVENTS = {
    "failover": ("RDS-EVENT-0071",),
    "global failover": ("RDS-EVENT-0185",),
    "maintenance": ("RDS-EVENT-0268",),
}
BLUE_GREEN_EVENTS = {"notification": ("RDS-EVENT-0248", "RDS-EVENT-0251")}


def _ids(events_by_category: Mapping[str, tuple[str, ...]]) -> list[str]:
    return sorted({event for ids in events_by_category.values() for event in ids})


class CheckSchedules(Construct):
    """The schedule group and the role its schedules run with."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.group = scheduler.CfnScheduleGroup(self, "Group", name=CHECK_SCHEDULE_GROUP)
        self.check_state_machine_arn = arn("states", f"stateMachine:{CHECK_STATE_MACHINE_NAME}")
        self.role = iam.Role(
            self,
            "SchedulerRole",
            description="rds-cdc-setup: EventBridge Scheduler starts the check of a prepared target",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": arn("scheduler", GROUP_SCHEDULES)},
                },
            ),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[self.check_state_machine_arn])
        )
        self.group_schedules_arn = arn("scheduler", GROUP_SCHEDULES)

    def environment(self, check_schedule: str) -> dict[str, str]:
        """What EnsureCheckSchedule needs: the group, the check, the role and the deployment's rate."""
        return {
            "CHECK_SCHEDULE_GROUP": CHECK_SCHEDULE_GROUP,
            "CHECK_STATE_MACHINE_ARN": self.check_state_machine_arn,
            "CHECK_SCHEDULER_ROLE_ARN": self.role.role_arn,
            "CHECK_SCHEDULE": check_schedule,
        }


class CheckLifecycleRules(Construct):
    """EventBridge rules: an RDS lifecycle event starts the check state machine with the event as its input."""

    def __init__(self, scope: Construct, construct_id: str, *, check_state_machine: sfn.IStateMachine) -> None:
        super().__init__(scope, construct_id)
        target = targets.SfnStateMachine(check_state_machine, retry_attempts=10, max_event_age=Duration.hours(2))
        self.instance_events = events.Rule(
            self,
            "InstanceLifecycle",
            description="rds-cdc-setup: failover, restore or engine upgrade of an RDS instance: check it at once",
            event_pattern=events.EventPattern(
                source=["aws.rds"],
                detail_type=["RDS DB Instance Event"],
                detail={"EventID": _ids(INSTANCE_EVENTS)},
            ),
            targets=[target],
        )
        self.cluster_events = events.Rule(
            self,
            "ClusterLifecycle",
            description="rds-cdc-setup: failover or engine upgrade of an Aurora cluster: check it at once",
            event_pattern=events.EventPattern(
                source=["aws.rds"],
                detail_type=["RDS DB Cluster Event"],
                detail={"EventID": _ids(CLUSTER_EVENTS)},
            ),
            targets=[target],
        )
        self.blue_green_events = events.Rule(
            self,
            "BlueGreenSwitchover",
            description="rds-cdc-setup: a blue/green switchover completed: check its databases at once",
            event_pattern=events.EventPattern(
                source=["aws.rds"],
                detail_type=["RDS Blue Green Deployment Event"],
                detail={"EventID": _ids(BLUE_GREEN_EVENTS)},
            ),
            targets=[target],
        )
