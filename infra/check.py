"""The check workflow: one Lambda per task of statemachine/cdc_check.asl.json and its state machine.

It shares the setup workflow's key (the CDC user's secret is encrypted with it; a repair may create
it as setup would), topic (failures) and lock (a check that publishes or repairs takes it)."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.functions import DataPlaneNetwork, arn
from infra.permissions import SECRET_NAME_PREFIX, Scope
from infra.schedule import CheckSchedules
from infra.steps import Resources, grant_child_executions, workflow_functions, workflow_state_machine
from infra.target_lock import TargetLock
from lambdas.shared.names import CHECK_SCHEDULE_GROUP
from lambdas.shared.steps import Workflow

__all__ = ["STATE_MACHINE_NAME", "CdcCheckWorkflow"]

STATE_MACHINE_NAME = Workflow.CHECK.state_machine_name


class CdcCheckWorkflow(Construct):
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
        lifecycle_repair: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.functions = workflow_functions(
            self,
            Workflow.CHECK,
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
                "SECRETS_KMS_KEY_ARN": key.key_arn,
                # FindPreparedTargets: the schedules of the group; a lifecycle event's check repairs only so.
                "CHECK_SCHEDULE_GROUP": CHECK_SCHEDULE_GROUP,
                "LIFECYCLE_REPAIR": "true" if lifecycle_repair else "false",
            },
            network=network,
            log_retention=log_retention,
        )
        # Itself, by its fixed name: a lifecycle event's check runs one child execution per prepared database.
        own_arn = arn("states", f"stateMachine:{STATE_MACHINE_NAME}")
        self.state_machine = workflow_state_machine(
            self,
            Workflow.CHECK,
            name=STATE_MACHINE_NAME,
            functions=self.functions,
            log_retention=log_retention,
            substitutions={"CheckStateMachineArn": own_arn},
        )
        grant_child_executions(
            self.state_machine,
            child_arn=own_arn,
            child_name=STATE_MACHINE_NAME,
            reason="Child checks of a lifecycle event are named at start (a UUID); only this state machine's.",
        )
