"""The CDC setup workflow: one Lambda per ASL task, the notification topic and the state machine."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra import permissions
from infra.config import ACCOUNT_WIDE_TARGETS, NO_VPC, warn
from infra.functions import DataPlaneNetwork
from infra.permissions import SECRET_NAME_PREFIX, Scope
from infra.schedule import CheckSchedules
from infra.steps import Resources, workflow_functions, workflow_state_machine
from infra.target_lock import TargetLock
from lambdas.shared.steps import Workflow

ALARM_NAME_PREFIX = permissions.ALARM_NAME_PREFIX  # as lambdas/logic/monitoring.py names the alarms
STATE_MACHINE_NAME = Workflow.SETUP.state_machine_name


class CdcSetupWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: DataPlaneNetwork | None,
        notification_email: str | None,
        log_retention: logs.RetentionDays,
        scope_of_access: Scope,
        lock: TargetLock,
        schedules: CheckSchedules,
        check_schedule: str,
    ) -> None:
        super().__init__(scope, construct_id)
        opt_in_tag = scope_of_access.opt_in_tag
        self.key = kms.Key(
            self,
            "Key",
            description="rds-cdc-setup: secrets the workflow creates and its notification topic",
            enable_key_rotation=True,
        )
        self.topic = sns.Topic(
            self, "NotificationTopic", display_name="rds-cdc-setup", master_key=self.key, enforce_ssl=True
        )
        if notification_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(notification_email))
        if scope_of_access.account_wide:
            warn(
                self,
                ACCOUNT_WIDE_TARGETS,
                "target_scope=account: the workflows may modify and reboot every RDS instance and Aurora "
                f"cluster of the account and region, not only those tagged {opt_in_tag}.",
            )
        if network is None:
            warn(
                self,
                NO_VPC,
                "No vpc_id in context: the SQL steps will run outside any VPC, so they can reach only a "
                "publicly accessible database. For a database in a VPC, set vpc_id, subnet_ids and "
                "security_group_ids.",
            )

        self.functions = workflow_functions(
            self,
            Workflow.SETUP,
            service=STATE_MACHINE_NAME,
            resources=Resources(
                scope=scope_of_access,
                key_arn=self.key.key_arn,
                topic_arn=self.topic.topic_arn,
                lock=lock,
                schedules=schedules,
            ),
            environment={
                "NOTIFICATION_TOPIC_ARN": self.topic.topic_arn,
                "SECRET_NAME_PREFIX": SECRET_NAME_PREFIX,
                "SECRETS_KMS_KEY_ARN": self.key.key_arn,
                "OPT_IN_TAG": opt_in_tag,
                # DescribeTarget refuses, by name and before any change, a target IAM would refuse half-way.
                "TARGET_SCOPE": scope_of_access.target_scope,
                **schedules.environment(check_schedule),
            },
            network=network,
            log_retention=log_retention,
        )
        self.state_machine = workflow_state_machine(
            self, Workflow.SETUP, name=STATE_MACHINE_NAME, functions=self.functions, log_retention=log_retention
        )
