"""The per-target lock's table (lambdas/logic/lock.py): one item per RDS instance, Aurora cluster
or self-managed server being worked on, written only under a condition by the lock steps of the
setup and teardown workflows; and, under keys of their own (check#<target>), the findings of each
target's last check (lambdas/logic/publish_findings.py). It holds nothing but leases and those
fingerprints, so it goes with the stack (a check after a redeploy notifies its findings once more)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.functions import arn
from infra.permissions import Grant
from lambdas.shared.names import CHECK_RECORD_KEY_PREFIX
from lambdas.shared.steps import Workflow

PARTITION_KEY = "target"  # as lambdas/dal/locks.py writes the items
TTL_ATTRIBUTE = "expires_at"  # a lease's expiry (epoch seconds): DynamoDB removes expired leases
# The state machines whose executions hold leases: the lock steps ask whether a holder still runs.
LOCK_HOLDERS = (
    Workflow.SETUP.state_machine_name,
    Workflow.TEARDOWN.state_machine_name,
    Workflow.CHECK.state_machine_name,  # a check that publishes or repairs
)
ENVIRONMENT_VARIABLE = "LOCK_TABLE_NAME"  # as lambdas/shared/settings.py reads it


class TargetLock(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=TTL_ATTRIBUTE,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )

    def environment(self) -> dict[str, str]:
        return {ENVIRONMENT_VARIABLE: self.table.table_name}

    def grant_take(self) -> Grant:
        """Write and read leases in this table only (a conditional put takes one, or takes over an
        ended holder's); ask whether a holder still runs."""
        executions = [f"execution:{name}:*" for name in LOCK_HOLDERS]
        return Grant(
            [
                iam.PolicyStatement(
                    actions=["dynamodb:PutItem", "dynamodb:GetItem"],
                    resources=[self.table.table_arn],
                ),
                iam.PolicyStatement(
                    actions=["states:DescribeExecution"], resources=[arn("states", e) for e in executions]
                ),
            ],
            [("states", e, "A lease's holder: any execution of the workflows, named at start.") for e in executions],
        )

    def grant_release(self) -> Grant:
        """Delete a lease in this table only (a conditional delete: only its holder's)."""
        return Grant([iam.PolicyStatement(actions=["dynamodb:DeleteItem"], resources=[self.table.table_arn])])

    def grant_findings_record(self) -> Grant:
        """Read and write (a conditional put) only the items keyed check#<target> in this table: never a lease."""
        return Grant(
            [
                iam.PolicyStatement(
                    actions=["dynamodb:GetItem", "dynamodb:PutItem"],
                    resources=[self.table.table_arn],
                    conditions={
                        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{CHECK_RECORD_KEY_PREFIX}*"]},
                    },
                )
            ]
        )
