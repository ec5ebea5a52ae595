"""Monitoring: the per-instance alarms may notify the workflow's topic; a dashboard for the workflow and
the check's findings."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.workflow import ALARM_NAME_PREFIX, CdcSetupWorkflow
from lambdas.shared.names import CHECK_METRICS_DIMENSION, CHECK_METRICS_NAMESPACE

FIVE_MINUTES = Duration.minutes(5)


class CdcSetupMonitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, workflow: CdcSetupWorkflow) -> None:
        super().__init__(scope, construct_id)
        self._let_alarms_notify(workflow)
        self.dashboard = cw.Dashboard(
            self,
            "Dashboard",
            default_interval=Duration.days(7),
            widgets=[
                self._executions(workflow.state_machine),
                self._steps(workflow.functions),
                [
                    cw.GraphWidget(
                        title="Replication slot lag of every instance (bytes; alarms: rds-cdc-setup-*)",
                        width=24,
                        left=[
                            cw.MathExpression(
                                expression="SEARCH('{AWS/RDS,DBInstanceIdentifier} "
                                "MetricName=\"OldestReplicationSlotLag\"', 'Maximum', 300)",
                                using_metrics={},
                                label="",
                                period=FIVE_MINUTES,
                            )
                        ],
                    )
                ],
                [self._findings()],
            ],
        )

    @staticmethod
    def _let_alarms_notify(workflow: CdcSetupWorkflow) -> None:
        """CloudWatch publishes alarm actions itself: the topic's and the key's policies must allow it."""
        cloudwatch = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        workflow.topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[cloudwatch],
                actions=["sns:Publish"],
                resources=[workflow.topic.topic_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:"
                        f"{ALARM_NAME_PREFIX}*"
                    },
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                },
            )
        )
        workflow.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[cloudwatch],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy: this key
            )
        )

    @staticmethod
    def _findings() -> cw.IWidget:
        """The check's finding metrics (lambdas/logic/publish_findings.py): every kind of every target,
        one line each; a line at 0 is a target back to clean."""
        search = f"{{{CHECK_METRICS_NAMESPACE},{CHECK_METRICS_DIMENSION}}}"
        return cw.GraphWidget(
            title=f"Check findings per target and kind (rds-cdc-check; {CHECK_METRICS_NAMESPACE})",
            width=24,
            left=[
                cw.MathExpression(
                    expression=f"SEARCH('{search}', 'Maximum', 3600)",
                    using_metrics={},
                    label="",
                    period=Duration.hours(1),
                )
            ],
            left_y_axis=cw.YAxisProps(min=0, label="findings", show_units=False),
        )

    @staticmethod
    def _executions(state_machine: sfn.StateMachine) -> list[cw.IWidget]:
        return [
            cw.GraphWidget(
                title="Executions",
                width=12,
                left=[
                    state_machine.metric_started(period=FIVE_MINUTES, statistic="Sum"),
                    state_machine.metric_succeeded(period=FIVE_MINUTES, statistic="Sum"),
                    state_machine.metric_failed(period=FIVE_MINUTES, statistic="Sum"),
                    state_machine.metric_timed_out(period=FIVE_MINUTES, statistic="Sum"),
                ],
            ),
            cw.GraphWidget(
                title="Execution time",
                width=12,
                left=[state_machine.metric_time(period=FIVE_MINUTES, statistic="Maximum")],
            ),
        ]

    @staticmethod
    def _steps(functions: dict[str, lambda_.Function]) -> list[cw.IWidget]:
        return [
            cw.GraphWidget(
                title="Step errors",
                width=12,
                left=[fn.metric_errors(period=FIVE_MINUTES, label=name) for name, fn in functions.items()],
            ),
            cw.GraphWidget(
                title="Step duration (max)",
                width=12,
                left=[
                    fn.metric_duration(period=FIVE_MINUTES, statistic="Maximum", label=name)
                    for name, fn in functions.items()
                ],
            ),
        ]
