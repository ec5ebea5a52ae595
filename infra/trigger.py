"""EventBridge rules that start the workflow: a new RDS instance or Aurora cluster, or the
opt-in tag set on one.

Each event becomes the execution input as is; the first states of the definition read the
instance's or cluster's tags and end the execution as Skipped unless it carries the opt-in tag
(and for an instance that is an Aurora cluster member: its cluster is set up, not it)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

INSTANCE_CREATED = "RDS-EVENT-0005"  # "DB instance created", detail-type "RDS DB Instance Event"
CLUSTER_CREATED = "RDS-EVENT-0170"  # "DB cluster created", detail-type "RDS DB Cluster Event"


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
            description=(
                "rds-cdc-setup: a new RDS instance (skipped unless it is tagged; "
                "an Aurora cluster member is skipped: its cluster is set up instead)"
            ),
            event_pattern=events.EventPattern(
                source=["aws.rds"],
                detail_type=["RDS DB Instance Event"],
                detail={"EventID": [INSTANCE_CREATED]},
            ),
            targets=[target],
        )
        self.cluster_created = events.Rule(
            self,
            "ClusterCreated",
            description=(
                "rds-cdc-setup: a new Aurora cluster (the workflow skips it unless it is tagged, "
                "and waits for its writer instance)"
            ),
            event_pattern=events.EventPattern(
                source=["aws.rds"],
                detail_type=["RDS DB Cluster Event"],
                detail={"EventID": [CLUSTER_CREATED]},
            ),
            targets=[target],
        )
        self.opted_in = events.Rule(
            self,
            "OptInTagSet",
            description=f"rds-cdc-setup: the tag {opt_in_tag} set on an RDS instance or Aurora cluster",
            event_pattern=events.EventPattern(
                source=["aws.tag"],
                detail_type=["Tag Change on Resource"],
                detail={
                    "service": ["rds"],
                    "resource-type": ["db", "cluster"],  # as in the ARN: ...:db:<id>, ...:cluster:<id>
                    "changed-tag-keys": [key],
                    "tags": {key: [value]},
                },
            ),
            targets=[target],
        )
