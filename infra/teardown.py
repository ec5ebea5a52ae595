"""The teardown workflow: one Lambda per task of statemachine/cdc_teardown.asl.json and its state machine.

It shares the setup workflow's key (the user's secret is encrypted with it) and topic."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.functions import DataPlaneNetwork
from infra.permissions import SECRET_NAME_PREFIX, Scope
from infra.schedule import CheckSchedules
from infra.steps import Resources, workflow_functions, workflow_state_machine
from infra.target_lock import TargetLock
from lambdas.shared.names import CHECK_SCHEDULE_GROUP
from lambdas.shared.steps import Workflow

__all__ = ["STATE_MACHINE_NAME", "CdcTeardownWorkflow"]

STATE_MACHINE_NAME = Workflow.TEARDOWN.state_machine_name


class CdcTeardownWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: DataPlaneNetwork | None,
        key: kms.IKey,
        topic: sns.ITopic,
        log_retention: logs.RetentionDays,
        lock: TargetLock,
        scope_of_access: Scope | None = None,
        schedules: CheckSchedules | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.functions = workflow_functions(
            self,
            Workflow.TEARDOWN,
            service=STATE_MACHINE_NAME,
            resources=Resources(
                scope=scope_of_access or Scope(),
                key_arn=key.key_arn,
                topic_arn=topic.topic_arn,
                lock=lock,
                schedules=schedules,
            ),
            environment={
                "NOTIFICATION_TOPIC_ARN": topic.topic_arn,
                "SECRET_NAME_PREFIX": SECRET_NAME_PREFIX,
                "CHECK_SCHEDULE_GROUP": CHECK_SCHEDULE_GROUP,
            },
            network=network,
            log_retention=log_retention,
        )
        self.state_machine = workflow_state_machine(
            self, Workflow.TEARDOWN, name=STATE_MACHINE_NAME, functions=self.functions, log_retention=log_retention
        )
