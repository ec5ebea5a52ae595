"""The CDC setup workflow: one Lambda per ASL task, the notification topic and the state machine."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from aws_cdk import Annotations, Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.bundling import lambda_code
from infra.functions import (
    ARCHITECTURE,
    RUNTIME,
    DataPlaneNetwork,
    acknowledge_wildcard,
    arn,
    asl_state_machine,
    grant_invoke,
    powertools_environment,
    task_function,
    vpc_access_policy,
)

ASL_FILE = Path(__file__).resolve().parent.parent / "statemachine" / "cdc_setup.asl.json"
SECRET_NAME_PREFIX = "rds-cdc-setup/"  # noqa: S105 - a name prefix, not a secret
ALARM_NAME_PREFIX = "rds-cdc-setup-"  # as lambdas/logic/monitoring.py names the alarms
STATE_MACHINE_NAME = "rds-cdc-setup"


class Access(Enum):
    """What a step's function may touch; each is one customer-managed policy."""

    RDS_READ = "RdsRead"  # describe instances and parameter groups, read tags
    TRIGGER_READ = "TriggerRead"  # the tags and cluster membership of an event's instance or cluster
    PARAMETER_GROUP = "ParameterGroup"  # create and change parameter groups, attach one
    REBOOT = "Reboot"
    SECRETS = "Secrets"  # read the master and CDC user secrets
    USER_SECRET = "UserSecret"  # noqa: S105 - create the CDC user's secret, encrypted with the key
    NOTIFY = "Notify"  # publish to the notification topic
    ALARMS = "Alarms"  # the workflow's CloudWatch alarms
    EXECUTIONS = "Executions"  # list and describe this state machine's executions


@dataclass(frozen=True)
class Step:
    name: str  # ASL state name; its placeholder is ${<name>FunctionArn}, its handler lambdas.handlers.<snake_case>
    in_vpc: bool  # data plane: speaks SQL to the database
    access: tuple[Access, ...]


# Every step the definition may use; a function is made for each one it does use.
STEPS = (
    Step("ReadTriggerTags", False, (Access.TRIGGER_READ,)),
    Step("ValidateInput", False, ()),
    Step("CheckConcurrency", False, (Access.EXECUTIONS,)),
    Step("DescribeTarget", False, (Access.RDS_READ,)),
    Step("DescribeSelfManagedTarget", False, ()),  # self-managed PostgreSQL: from the input alone
    Step("Preflight", True, (Access.SECRETS,)),
    Step("EnsureParameterGroup", False, (Access.RDS_READ, Access.PARAMETER_GROUP)),
    Step("RebootInstance", False, (Access.RDS_READ, Access.REBOOT)),
    Step("CheckRebootStatus", True, (Access.RDS_READ, Access.REBOOT, Access.SECRETS)),
    Step("ConfigureDatabase", True, (Access.SECRETS, Access.USER_SECRET)),
    Step("CreateSlot", True, (Access.SECRETS,)),
    Step("Verify", True, (Access.SECRETS,)),
    Step("CreateAlarms", False, (Access.ALARMS,)),
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
        opt_in_tag: str,
        master_secret_arns: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
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
        if network is None:
            Annotations.of(self).add_warning_v2(
                "rds-cdc-setup:NoVpc",
                "No vpc_id in context: the SQL steps run outside any VPC and reach only a publicly "
                "accessible database. Set vpc_id, subnet_ids and security_group_ids.",
            )

        definition = ASL_FILE.read_text()
        used = _step_names(definition)
        self._master_secret_arns = list(master_secret_arns)
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
                environment=environment,
                managed_policies=managed,
                network=network,
                log_retention=log_retention,
            )
        self.state_machine = self._state_machine(definition, log_retention)

    def _policy(self, access: Access) -> iam.ManagedPolicy:
        """The access's policy, made on first use: no unattached policies."""
        if access not in self._policies:
            description, statements, wildcards = self._access(access)
            policy = iam.ManagedPolicy(
                self, f"{access.value}Policy", description=f"rds-cdc-setup: {description}", statements=statements
            )
            for service, resource, reason in wildcards:
                acknowledge_wildcard(policy, service, resource, reason)
            self._policies[access] = policy
        return self._policies[access]

    def _access(self, access: Access) -> tuple[str, list[iam.PolicyStatement], list[tuple[str, str, str]]]:
        """(description, statements, acknowledged wildcard resources) of each access."""
        db, pg = "db:*", "pg:*"
        cluster, cluster_pg = "cluster:*", "cluster-pg:*"  # Aurora
        any_instance = "The target instance is execution input, unknown at deploy time; this account and region."
        any_group = "Parameter groups are named after the target instance, which is execution input."
        any_cluster = "The target Aurora cluster is execution input, unknown at deploy time; this account and region."
        any_cluster_group = "Cluster parameter groups are named after the target cluster, which is execution input."
        master_secrets, own_secrets = "secret:rds!*", f"secret:{SECRET_NAME_PREFIX}*"
        via_secrets_manager = {"StringEquals": {"kms:ViaService": f"secretsmanager.{Aws.REGION}.amazonaws.com"}}
        if access is Access.RDS_READ:
            actions = ["rds:DescribeDBInstances", "rds:ListTagsForResource"]
            group_actions = ["rds:DescribeDBParameterGroups", "rds:DescribeDBParameters"]
            cluster_group_actions = ["rds:DescribeDBClusterParameterGroups", "rds:DescribeDBClusterParameters"]
            return (
                "read RDS instances, Aurora clusters, their tags and parameter groups",
                [
                    iam.PolicyStatement(actions=actions, resources=[arn("rds", db)]),
                    iam.PolicyStatement(actions=group_actions, resources=[arn("rds", pg)]),
                    iam.PolicyStatement(actions=["rds:DescribeDBClusters"], resources=[arn("rds", cluster)]),
                    iam.PolicyStatement(actions=cluster_group_actions, resources=[arn("rds", cluster_pg)]),
                ],
                [
                    ("rds", db, any_instance),
                    ("rds", pg, any_group),
                    ("rds", cluster, any_cluster),
                    ("rds", cluster_pg, any_cluster_group),
                ],
            )
        if access is Access.TRIGGER_READ:
            # ListTagsForResource on both ARN kinds an event names; DescribeDBInstances tells an
            # Aurora member (skipped), DescribeDBClusters whether a new cluster has its writer yet.
            return (
                "read the tags of the instance or Aurora cluster an event names, its cluster or writer",
                [
                    iam.PolicyStatement(
                        actions=["rds:DescribeDBInstances", "rds:ListTagsForResource"], resources=[arn("rds", db)]
                    ),
                    iam.PolicyStatement(
                        actions=["rds:DescribeDBClusters", "rds:ListTagsForResource"], resources=[arn("rds", cluster)]
                    ),
                ],
                [
                    ("rds", db, "The instance is named by the EventBridge event, unknown at deploy time."),
                    ("rds", cluster, "The Aurora cluster is named by the EventBridge event, unknown at deploy time."),
                ],
            )
        if access is Access.PARAMETER_GROUP:
            group_actions = ["rds:CreateDBParameterGroup", "rds:ModifyDBParameterGroup", "rds:AddTagsToResource"]
            cluster_group_actions = [
                "rds:CreateDBClusterParameterGroup",
                "rds:ModifyDBClusterParameterGroup",
                "rds:AddTagsToResource",
            ]
            return (
                "create and change (cluster) parameter groups, attach one to an instance or Aurora cluster",
                [
                    iam.PolicyStatement(actions=group_actions, resources=[arn("rds", pg)]),
                    # Attaching a group is ModifyDBInstance on both the instance and the group.
                    iam.PolicyStatement(actions=["rds:ModifyDBInstance"], resources=[arn("rds", db), arn("rds", pg)]),
                    iam.PolicyStatement(actions=cluster_group_actions, resources=[arn("rds", cluster_pg)]),
                    # Aurora: ModifyDBCluster on both the cluster and the cluster parameter group.
                    iam.PolicyStatement(
                        actions=["rds:ModifyDBCluster"], resources=[arn("rds", cluster), arn("rds", cluster_pg)]
                    ),
                ],
                [
                    ("rds", db, any_instance),
                    ("rds", pg, any_group),
                    ("rds", cluster, any_cluster),
                    ("rds", cluster_pg, any_cluster_group),
                ],
            )
        if access is Access.REBOOT:
            return (
                "reboot the instance (an Aurora cluster's writer) whose parameters need it",
                [iam.PolicyStatement(actions=["rds:RebootDBInstance"], resources=[arn("rds", db)])],
                [("rds", db, any_instance)],
            )
        if access is Access.SECRETS:
            secrets = [arn("secretsmanager", master_secrets), arn("secretsmanager", own_secrets)]
            return (
                "read the master user's and the CDC user's secrets",
                [
                    iam.PolicyStatement(
                        actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                        resources=[*secrets, *self._master_secret_arns],
                    ),
                    # The master secret's key is RDS's or the DBA's choice; Decrypt only via Secrets Manager.
                    iam.PolicyStatement(
                        actions=["kms:Decrypt"], resources=[arn("kms", "key/*")], conditions=via_secrets_manager
                    ),
                ],
                [
                    (
                        "secretsmanager",
                        master_secrets,
                        "RDS names master-user secrets rds!<id>; the instance is input.",
                    ),
                    ("secretsmanager", own_secrets, f"Secrets this workflow creates: {SECRET_NAME_PREFIX}<instance>/."),
                    ("kms", "key/*", "Any key may protect a master secret; Decrypt only via Secrets Manager."),
                ],
            )
        if access is Access.USER_SECRET:
            return (
                "create the CDC user's secret, encrypted with the workflow's key",
                [
                    iam.PolicyStatement(
                        actions=["secretsmanager:CreateSecret", "secretsmanager:TagResource"],
                        resources=[arn("secretsmanager", own_secrets)],
                    ),
                    iam.PolicyStatement(
                        actions=["kms:GenerateDataKey", "kms:Decrypt"],
                        resources=[self.key.key_arn],
                        conditions=via_secrets_manager,
                    ),
                ],
                [("secretsmanager", own_secrets, f"Secrets this workflow creates: {SECRET_NAME_PREFIX}<instance>/.")],
            )
        if access is Access.NOTIFY:
            return (
                "publish to the notification topic",
                [
                    iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn]),
                    # The topic is encrypted with the key.
                    iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.key.key_arn]),
                ],
                [],
            )
        if access is Access.ALARMS:
            alarms = f"alarm:{ALARM_NAME_PREFIX}*"
            return (
                "create and read the workflow's CloudWatch alarms",
                [
                    iam.PolicyStatement(
                        actions=["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms"],
                        resources=[arn("cloudwatch", alarms)],
                    )
                ],
                [
                    (
                        "cloudwatch",
                        alarms,
                        f"Alarms are named {ALARM_NAME_PREFIX}<instance>-<metric>; instance is input.",
                    )
                ],
            )
        executions = f"execution:{STATE_MACHINE_NAME}:*"
        return (
            "find running executions of the workflow",
            [
                iam.PolicyStatement(
                    actions=["states:ListExecutions"], resources=[arn("states", f"stateMachine:{STATE_MACHINE_NAME}")]
                ),
                iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[arn("states", executions)]),
            ],
            [("states", executions, "Executions are named at start; any of this state machine's.")],
        )

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
