"""The CDC setup workflow: one Lambda per ASL task, the notification topic and the state machine."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from aws_cdk import Annotations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import permissions
from infra.bundling import lambda_code
from infra.functions import (
    ARCHITECTURE,
    RUNTIME,
    DataPlaneNetwork,
    arn,
    asl_state_machine,
    grant_invoke,
    powertools_environment,
    task_function,
    vpc_access_policy,
)
from infra.permissions import SECRET_NAME_PREFIX, Grant, Scope, managed_policy
from infra.target_lock import TargetLock

ASL_FILE = Path(__file__).resolve().parent.parent / "statemachine" / "cdc_setup.asl.json"
ALARM_NAME_PREFIX = permissions.ALARM_NAME_PREFIX  # as lambdas/logic/monitoring.py names the alarms
STATE_MACHINE_NAME = "rds-cdc-setup"


class Access(Enum):
    """What a step's function may touch; each is one customer-managed policy (infra/permissions.py)."""

    RDS_READ = "RdsRead"  # describe instances, clusters, parameter groups; read their tags
    INSTANCE_READ = "InstanceRead"  # the status of the instance, or of the cluster and its writer
    TRIGGER_READ = "TriggerRead"  # the tags and cluster membership of an event's instance or cluster
    PARAMETER_GROUP = "ParameterGroup"  # create/copy/change own parameter groups, attach one to the target
    REBOOT = "Reboot"  # reboot the opted-in target
    MASTER_SECRET = "MasterSecret"  # noqa: S105 - read the master user's secret
    USER_SECRET_READ = "UserSecretRead"  # noqa: S105 - read the CDC user's secret (the workflow's own)
    USER_SECRET_LOOKUP = "UserSecretLookup"  # noqa: S105 - whose is the secret at the CDC user's secret name
    USER_SECRET = "UserSecret"  # noqa: S105 - create the CDC user's secret, encrypted with the key
    NOTIFY = "Notify"  # publish to the notification topic
    ALARMS = "Alarms"  # the workflow's CloudWatch alarms
    LOCK = "Lock"  # take and release the target's lock (infra/target_lock.py), see whether its holder runs


@dataclass(frozen=True)
class Step:
    name: str  # ASL state name; its placeholder is ${<name>FunctionArn}, its handler lambdas.handlers.<snake_case>
    in_vpc: bool  # data plane: speaks SQL to the database
    access: tuple[Access, ...]


# Every step the definition may use; a function is made for each one it does use.
STEPS = (
    Step("ReadTriggerTags", False, (Access.TRIGGER_READ,)),
    Step("ValidateInput", False, ()),
    Step("AcquireLock", False, (Access.LOCK,)),
    Step("DescribeTarget", False, (Access.RDS_READ,)),
    Step("DescribeSelfManagedTarget", False, ()),  # self-managed PostgreSQL: from the input alone
    Step("Preflight", True, (Access.MASTER_SECRET, Access.USER_SECRET_LOOKUP)),  # the plan says whose secret it is
    Step("EnsureParameterGroup", False, (Access.RDS_READ, Access.PARAMETER_GROUP)),
    Step("RebootInstance", False, (Access.INSTANCE_READ, Access.REBOOT)),
    Step("CheckRebootStatus", True, (Access.INSTANCE_READ, Access.REBOOT, Access.MASTER_SECRET)),
    Step("ConfigureDatabase", True, (Access.MASTER_SECRET, Access.USER_SECRET_READ, Access.USER_SECRET)),
    Step("CreateSlot", True, (Access.MASTER_SECRET,)),
    Step("Verify", True, (Access.USER_SECRET_READ,)),  # connects as the CDC user: no master secret
    Step("CreateAlarms", False, (Access.ALARMS,)),
    Step("ReleaseLock", False, (Access.LOCK,)),
    Step("Report", False, (Access.NOTIFY,)),
    Step("NotifyFailure", False, (Access.NOTIFY,)),
)


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
    ) -> None:
        super().__init__(scope, construct_id)
        self._scope = scope_of_access
        self._lock = lock
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
            Annotations.of(self).add_warning_v2(
                "rds-cdc-setup:AccountWideTargets",
                "target_scope=account: the workflows may modify and reboot every RDS instance and Aurora "
                f"cluster of the account and region, not only those tagged {opt_in_tag}.",
            )
        if network is None:
            Annotations.of(self).add_warning_v2(
                "rds-cdc-setup:NoVpc",
                "No vpc_id in context: the SQL steps run outside any VPC and reach only a publicly "
                "accessible database. Set vpc_id, subnet_ids and security_group_ids.",
            )

        definition = ASL_FILE.read_text()
        used = _step_names(definition)
        self._policies: dict[Access, iam.ManagedPolicy] = {}
        vpc_policy = (
            vpc_access_policy(self, "rds-cdc-setup: network interfaces for the functions in the VPC")
            if network
            else None
        )
        code = lambda_code(runtime=RUNTIME, architecture=ARCHITECTURE)
        environment = {
            **powertools_environment("rds-cdc-setup"),
            "NOTIFICATION_TOPIC_ARN": self.topic.topic_arn,
            "SECRET_NAME_PREFIX": SECRET_NAME_PREFIX,
            "SECRETS_KMS_KEY_ARN": self.key.key_arn,
            "OPT_IN_TAG": opt_in_tag,
            # DescribeTarget refuses, by name and before any change, a target IAM would refuse half-way.
            "TARGET_SCOPE": scope_of_access.target_scope,
        }
        self.functions: dict[str, lambda_.Function] = {}
        for step in (step for step in STEPS if step.name in used):
            managed = [self._policy(access) for access in step.access]
            if step.in_vpc and vpc_policy:
                managed.append(vpc_policy)
            self.functions[step.name] = task_function(
                self,
                step.name,
                description=f"rds-cdc-setup step {step.name}",
                in_vpc=step.in_vpc,
                code=code,
                # Only the lock steps know the lock table.
                environment={**environment, **(lock.environment() if Access.LOCK in step.access else {})},
                managed_policies=managed,
                network=network,
                log_retention=log_retention,
            )
        self.state_machine = self._state_machine(definition, log_retention)

    def _policy(self, access: Access) -> iam.ManagedPolicy:
        """The access's policy, made on first use: no unattached policies."""
        if access not in self._policies:
            description, grant = self._access(access)
            self._policies[access] = managed_policy(
                self, f"{access.value}Policy", f"rds-cdc-setup: {description}", grant
            )
        return self._policies[access]

    def _access(self, access: Access) -> tuple[str, Grant]:
        """(description, grant) of each access."""
        scope, key = self._scope, self.key.key_arn
        if access is Access.RDS_READ:
            return "read RDS instances, Aurora clusters, their parameter groups and tags", permissions.read_targets()
        if access is Access.INSTANCE_READ:
            return "read the status of the instance, or the Aurora cluster and its writer", permissions.read_instances()
        if access is Access.TRIGGER_READ:
            # ListTagsForResource on both ARN kinds an event names; DescribeDBInstances tells an
            # Aurora member (skipped), DescribeDBClusters whether a new cluster has its writer yet.
            # Read only, on any instance: it is what decides whether the event's target opted in.
            return (
                "read the tags of the instance or Aurora cluster an event names, its cluster or writer",
                Grant(
                    [
                        iam.PolicyStatement(
                            actions=["rds:DescribeDBInstances", "rds:ListTagsForResource"],
                            resources=[arn("rds", permissions.DB)],
                        ),
                        iam.PolicyStatement(
                            actions=["rds:DescribeDBClusters", "rds:ListTagsForResource"],
                            resources=[arn("rds", permissions.CLUSTER)],
                        ),
                    ],
                    [
                        (
                            "rds",
                            permissions.DB,
                            "The instance is named by the EventBridge event, unknown at deploy time.",
                        ),
                        (
                            "rds",
                            permissions.CLUSTER,
                            "The Aurora cluster is named by the EventBridge event, unknown at deploy time.",
                        ),
                    ],
                ),
            )
        if access is Access.PARAMETER_GROUP:
            return (
                "create, copy and change its own (cluster) parameter groups, attach one to an opted-in target",
                permissions.own_parameter_groups(scope),
            )
        if access is Access.REBOOT:
            return "reboot the opted-in instance (an Aurora cluster's writer)", permissions.reboot(scope)
        if access is Access.MASTER_SECRET:
            return "read the master user's secret", permissions.master_secrets(scope)
        if access is Access.USER_SECRET_READ:
            return "read the CDC user's secret the workflow created", permissions.own_secret_read(key)
        if access is Access.USER_SECRET_LOOKUP:
            return (
                "see whether a secret at the CDC user's secret name is the workflow's",
                permissions.own_secret_describe(),
            )
        if access is Access.USER_SECRET:
            return (
                "create the CDC user's secret with the owner tag, encrypted with the workflow's key",
                permissions.own_secret_create(key),
            )
        if access is Access.NOTIFY:
            return (
                "publish to the notification topic",
                Grant(
                    [
                        iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn]),
                        # The topic is encrypted with the key.
                        iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key]),
                    ]
                ),
            )
        if access is Access.ALARMS:
            return (
                "create and read the workflow's CloudWatch alarms",
                permissions.own_alarms(["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms"]),
            )
        return "take and release the target's lock, see whether its holder still runs", self._lock.grant()

    def _state_machine(self, definition: str, log_retention: logs.RetentionDays) -> sfn.StateMachine:
        state_machine = asl_state_machine(
            self,
            name=STATE_MACHINE_NAME,
            definition=definition,
            substitutions={f"{name}FunctionArn": fn.function_arn for name, fn in self.functions.items()},
            log_retention=log_retention,
        )
        grant_invoke(state_machine, list(self.functions.values()))
        return state_machine


def _step_names(definition: str) -> set[str]:
    """The steps whose ${<name>FunctionArn} the definition uses; any other placeholder is an error."""
    placeholders = set(re.findall(r"\$\{(\w+)\}", definition))
    names = {p.removesuffix("FunctionArn") for p in placeholders if p.endswith("FunctionArn")}
    unknown = placeholders - {f"{step.name}FunctionArn" for step in STEPS if step.name in names}
    if unknown:
        raise ValueError(f"{ASL_FILE.name} placeholders {sorted(unknown)} are no step of infra/workflow.py STEPS")
    return names
