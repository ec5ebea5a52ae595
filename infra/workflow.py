"""The CDC setup workflow: one Lambda per ASL task, the notification topic and the state machine."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from aws_cdk import Acknowledgment, Annotations, Aws, Duration, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.bundling import lambda_code

ASL_FILE = Path(__file__).resolve().parent.parent / "statemachine" / "cdc_setup.asl.json"
RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64
SECRET_NAME_PREFIX = "rds-cdc-setup/"  # noqa: S105 - a name prefix, not a secret
ALARM_NAME_PREFIX = "rds-cdc-setup-"  # as lambdas/logic/monitoring.py names the alarms
STATE_MACHINE_NAME = "rds-cdc-setup"


class Access(Enum):
    """What a step's function may touch; each is one customer-managed policy."""

    RDS_READ = "RdsRead"  # describe instances and parameter groups, read tags
    PARAMETER_GROUP = "ParameterGroup"  # create and change parameter groups, attach one
    REBOOT = "Reboot"
    SECRETS = "Secrets"  # read the master and CDC user secrets
    USER_SECRET = "UserSecret"  # noqa: S105 - create the CDC user's secret, encrypted with the key
    NOTIFY = "Notify"  # publish to the notification topic
    ALARMS = "Alarms"  # the workflow's CloudWatch alarms
    EXECUTIONS = "Executions"  # list and describe this state machine's executions


@dataclass(frozen=True)
class Step:
    name: str  # ASL state name; its placeholder is ${<name>FunctionArn}
    module: str  # lambdas.handlers.<module>
    in_vpc: bool  # data plane: speaks SQL to the database
    access: tuple[Access, ...]


# Every step the definition may use; a function is made for each one it does use.
STEPS = (
    Step("ReadTriggerTags", "read_trigger_tags", False, (Access.RDS_READ,)),
    Step("ValidateInput", "validate_input", False, ()),
    Step("CheckConcurrency", "check_concurrency", False, (Access.EXECUTIONS,)),
    Step("DescribeTarget", "describe_target", False, (Access.RDS_READ,)),
    Step("Preflight", "preflight", True, (Access.SECRETS,)),
    Step("EnsureParameterGroup", "ensure_parameter_group", False, (Access.RDS_READ, Access.PARAMETER_GROUP)),
    Step("RebootInstance", "reboot_instance", False, (Access.RDS_READ, Access.REBOOT)),
    Step("CheckRebootStatus", "check_reboot_status", True, (Access.RDS_READ, Access.REBOOT, Access.SECRETS)),
    Step("ConfigureDatabase", "configure_database", True, (Access.SECRETS, Access.USER_SECRET)),
    Step("CreateSlot", "create_slot", True, (Access.SECRETS,)),
    Step("Verify", "verify", True, (Access.SECRETS,)),
    Step("CreateAlarms", "create_alarms", False, (Access.ALARMS,)),
    Step("Report", "report", False, (Access.NOTIFY,)),
    Step("NotifyFailure", "notify_failure", False, (Access.NOTIFY,)),
)


@dataclass(frozen=True, kw_only=True)
class DataPlaneNetwork:
    vpc: ec2.IVpc
    subnets: Sequence[ec2.ISubnet]
    security_groups: Sequence[ec2.ISecurityGroup]


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
        vpc_policy = self._vpc_access_policy() if network else None
        code = lambda_code(runtime=RUNTIME, architecture=ARCHITECTURE)
        environment = {
            "POWERTOOLS_SERVICE_NAME": "rds-cdc-setup",
            "POWERTOOLS_METRICS_NAMESPACE": "RdsCdcSetup",
            "POWERTOOLS_LOG_LEVEL": "INFO",
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
            self.functions[step.name] = self._function(
                step,
                code=code,
                environment=environment,
                managed_policies=managed,
                network=network if step.in_vpc else None,
                log_retention=log_retention,
            )
        self.state_machine = self._state_machine(definition, log_retention)

    def _function(
        self,
        step: Step,
        *,
        code: lambda_.Code,
        environment: Mapping[str, str],
        managed_policies: Sequence[iam.IManagedPolicy],
        network: DataPlaneNetwork | None,
        log_retention: logs.RetentionDays,
    ) -> lambda_.Function:
        role = iam.Role(
            self,
            f"{step.name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            managed_policies=list(managed_policies),
        )
        log_group = logs.LogGroup(self, f"{step.name}Logs", retention=log_retention)
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            f"{step.name}Function",
            description=f"rds-cdc-setup step {step.name}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=code,
            handler=f"lambdas.handlers.{step.module}.handler",
            memory_size=256,
            timeout=Duration.seconds(120 if step.in_vpc else 60),
            tracing=lambda_.Tracing.ACTIVE,
            role=role,
            log_group=log_group,
            environment=dict(environment),
            vpc=network.vpc if network else None,
            vpc_subnets=ec2.SubnetSelection(subnets=list(network.subnets)) if network else None,
            security_groups=list(network.security_groups) if network else None,
        )
        _acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions.",
        )
        _acknowledge(
            function,
            "AwsSolutions-L1",
            "Python 3.12 on purpose: the asset's wheels are built for cp312; runtime and wheels move together.",
        )
        return function

    def _policy(self, access: Access) -> iam.ManagedPolicy:
        """The access's policy, made on first use: no unattached policies."""
        if access not in self._policies:
            description, statements, wildcards = self._access(access)
            policy = iam.ManagedPolicy(
                self, f"{access.value}Policy", description=f"rds-cdc-setup: {description}", statements=statements
            )
            for service, resource, reason in wildcards:
                _acknowledge_wildcard(policy, service, resource, reason)
            self._policies[access] = policy
        return self._policies[access]

    def _access(self, access: Access) -> tuple[str, list[iam.PolicyStatement], list[tuple[str, str, str]]]:
        """(description, statements, acknowledged wildcard resources) of each access."""
        db, pg = "db:*", "pg:*"
        any_instance = "The target instance is execution input, unknown at deploy time; this account and region."
        any_group = "Parameter groups are named after the target instance, which is execution input."
        master_secrets, own_secrets = "secret:rds!*", f"secret:{SECRET_NAME_PREFIX}*"
        via_secrets_manager = {"StringEquals": {"kms:ViaService": f"secretsmanager.{Aws.REGION}.amazonaws.com"}}
        if access is Access.RDS_READ:
            actions = ["rds:DescribeDBInstances", "rds:ListTagsForResource"]
            group_actions = ["rds:DescribeDBParameterGroups", "rds:DescribeDBParameters"]
            return (
                "read RDS instances, their tags and parameter groups",
                [
                    iam.PolicyStatement(actions=actions, resources=[_arn("rds", db)]),
                    iam.PolicyStatement(actions=group_actions, resources=[_arn("rds", pg)]),
                ],
                [("rds", db, any_instance), ("rds", pg, any_group)],
            )
        if access is Access.PARAMETER_GROUP:
            group_actions = ["rds:CreateDBParameterGroup", "rds:ModifyDBParameterGroup", "rds:AddTagsToResource"]
            return (
                "create and change parameter groups, attach one to an instance",
                [
                    iam.PolicyStatement(actions=group_actions, resources=[_arn("rds", pg)]),
                    # Attaching a group is ModifyDBInstance on both the instance and the group.
                    iam.PolicyStatement(actions=["rds:ModifyDBInstance"], resources=[_arn("rds", db), _arn("rds", pg)]),
                ],
                [("rds", db, any_instance), ("rds", pg, any_group)],
            )
        if access is Access.REBOOT:
            return (
                "reboot the instance whose parameters need it",
                [iam.PolicyStatement(actions=["rds:RebootDBInstance"], resources=[_arn("rds", db)])],
                [("rds", db, any_instance)],
            )
        if access is Access.SECRETS:
            secrets = [_arn("secretsmanager", master_secrets), _arn("secretsmanager", own_secrets)]
            return (
                "read the master user's and the CDC user's secrets",
                [
                    iam.PolicyStatement(
                        actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                        resources=[*secrets, *self._master_secret_arns],
                    ),
                    # The master secret's key is RDS's or the DBA's choice; Decrypt only via Secrets Manager.
                    iam.PolicyStatement(
                        actions=["kms:Decrypt"], resources=[_arn("kms", "key/*")], conditions=via_secrets_manager
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
                        resources=[_arn("secretsmanager", own_secrets)],
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
                        resources=[_arn("cloudwatch", alarms)],
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
                    actions=["states:ListExecutions"], resources=[_arn("states", f"stateMachine:{STATE_MACHINE_NAME}")]
                ),
                iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[_arn("states", executions)]),
            ],
            [("states", executions, "Executions are named at start; any of this state machine's.")],
        )

    def _vpc_access_policy(self) -> iam.ManagedPolicy:
        # What AWSLambdaVPCAccessExecutionRole grants, kept customer-managed.
        policy = iam.ManagedPolicy(
            self,
            "VpcAccessPolicy",
            description="rds-cdc-setup: network interfaces for the functions in the VPC",
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "ec2:CreateNetworkInterface",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeSubnets",
                        "ec2:DeleteNetworkInterface",
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    resources=["*"],
                )
            ],
        )
        _acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "Lambda manages the functions' network interfaces; the Describe actions allow no resource scoping.",
        )
        return policy

    def _state_machine(self, definition: str, log_retention: logs.RetentionDays) -> sfn.StateMachine:
        substitutions = {f"{name}FunctionArn": fn.function_arn for name, fn in self.functions.items()}
        state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            # Named, so that CheckConcurrency's policy can name it without a dependency cycle.
            state_machine_name=STATE_MACHINE_NAME,
            # DefinitionSubstitutions keep DefinitionString a literal that cfn-lint can validate.
            definition_body=sfn.DefinitionBody.from_string(definition),
            definition_substitutions=substitutions,
            logs=sfn.LogOptions(
                destination=logs.LogGroup(self, "StateMachineLogs", retention=log_retention),
                level=sfn.LogLevel.ALL,
                include_execution_data=False,  # state carries hostnames and secret ARNs
            ),
            tracing_enabled=True,
        )
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[fn.function_arn for fn in self.functions.values()]
            )
        )
        _acknowledge(
            state_machine,
            "AwsSolutions-IAM5[Resource::*]",
            "CloudWatch Logs delivery and X-Ray actions support no resource-level permissions.",
        )
        return state_machine


def _step_names(definition: str) -> set[str]:
    """The steps whose ${<name>FunctionArn} the definition uses; any other placeholder is an error."""
    placeholders = set(re.findall(r"\$\{(\w+)\}", definition))
    names = {p.removesuffix("FunctionArn") for p in placeholders if p.endswith("FunctionArn")}
    unknown = placeholders - {f"{step.name}FunctionArn" for step in STEPS if step.name in names}
    if unknown:
        raise ValueError(f"{ASL_FILE.name} placeholders {sorted(unknown)} are no step of infra/workflow.py STEPS")
    return names


def _arn(service: str, resource: str) -> str:
    # Pseudo-parameter refs, not stack.region, so the cdk-nag finding ids below never vary.
    return f"arn:{Aws.PARTITION}:{service}:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"


def _acknowledge_wildcard(scope: Construct, service: str, resource: str, reason: str) -> None:
    finding = f"arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"
    _acknowledge(scope, f"AwsSolutions-IAM5[Resource::{finding}]", reason)


def _acknowledge(scope: Construct, finding: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))
