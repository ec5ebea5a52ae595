"""EventBridge rules that start the workflow: a new RDS instance, or the opt-in tag set on one.

Each event becomes the execution input as is; the first states of the definition read the
instance's tags and end the execution as Skipped unless it carries the opt-in tag."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

INSTANCE_CREATED = "RDS-EVENT-0005"


class CdcSetupTrigger(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, state_machine: sfn.IStateMachine, opt_in_tag: str
    ) -> None:
        super().__init__(scope, construct_id)
        key, _, value = opt_in_tag.partition("=")
        target = targets.SfnStateMachine(state_machine, retry_attempts=10, max_event_age=Duration.hours(2))
        self.instance_created = events.Rule(
            self,
            "InstanceCreated",
            description="rds-cdc-setup: a new RDS instance (the workflow skips it unless it is tagged)",
            event_pattern=events.EventPattern(
                source=["aws.rds"],
                detail_type=["RDS DB Instance Event"],
                detail={"EventID": [INSTANCE_CREATED]},
            ),
            targets=[target],
        )
        self.opted_in = events.Rule(
            self,
            "OptInTagSet",
            description=f"rds-cdc-setup: the tag {opt_in_tag} set on an RDS instance",
            event_pattern=events.EventPattern(
                source=["aws.tag"],
                detail_type=["Tag Change on Resource"],
                detail={
                    "service": ["rds"],
                    "resource-type": ["db"],
                    "changed-tag-keys": [key],
                    "tags": {key: [value]},
                },
            ),
            targets=[target],
        )
