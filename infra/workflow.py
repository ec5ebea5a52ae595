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


class Access(Enum):
    """What a step's function may touch; each is one customer-managed policy."""

    RDS = "Rds"  # describe and change instances and parameter groups
    DATABASE = "Database"  # read master/user secrets, create the user's secret, check reboots
    NOTIFY = "Notify"  # publish to the notification topic


@dataclass(frozen=True)
class Step:
    name: str  # ASL state name; its placeholder is ${<name>FunctionArn}
    module: str  # lambdas.handlers.<module>
    in_vpc: bool  # data plane: speaks SQL to the database
    access: tuple[Access, ...]


STEPS = (
    Step("ValidateInput", "validate_input", False, ()),
    Step("DescribeTarget", "describe_target", False, (Access.RDS,)),
    Step("Preflight", "preflight", True, (Access.DATABASE,)),
    Step("EnsureParameterGroup", "ensure_parameter_group", False, (Access.RDS,)),
    Step("RebootInstance", "reboot_instance", False, (Access.RDS,)),
    Step("CheckRebootStatus", "check_reboot_status", True, (Access.DATABASE,)),
    Step("ConfigureDatabase", "configure_database", True, (Access.DATABASE,)),
    Step("CreateSlot", "create_slot", True, (Access.DATABASE,)),
    Step("Verify", "verify", True, (Access.DATABASE,)),
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

        policies = self._access_policies()
        vpc_policy = self._vpc_access_policy() if network else None
        code = lambda_code(runtime=RUNTIME, architecture=ARCHITECTURE)
        environment = {
            "POWERTOOLS_SERVICE_NAME": "rds-cdc-setup",
            "POWERTOOLS_METRICS_NAMESPACE": "RdsCdcSetup",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "NOTIFICATION_TOPIC_ARN": self.topic.topic_arn,
            "SECRET_NAME_PREFIX": SECRET_NAME_PREFIX,
            "SECRETS_KMS_KEY_ARN": self.key.key_arn,
        }
        self.functions: dict[str, lambda_.Function] = {}
        for step in STEPS:
            managed = [policies[access] for access in step.access]
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
        self.state_machine = self._state_machine(log_retention)

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

    def _access_policies(self) -> dict[Access, iam.ManagedPolicy]:
        db, pg = "db:*", "pg:*"
        rds = iam.ManagedPolicy(
            self,
            "RdsPolicy",
            description="rds-cdc-setup: inspect and prepare RDS PostgreSQL instances",
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "rds:DescribeDBInstances",
                        "rds:DescribeDBParameterGroups",
                        "rds:DescribeDBParameters",
                        "rds:CreateDBParameterGroup",
                        "rds:ModifyDBParameterGroup",
                        "rds:ModifyDBInstance",
                        "rds:RebootDBInstance",
                        "rds:AddTagsToResource",
                        "rds:ListTagsForResource",
                    ],
                    resources=[_arn("rds", db), _arn("rds", pg)],
                ),
            ],
        )
        for resource in (db, pg):
            _acknowledge_wildcard(
                rds,
                "rds",
                resource,
                "The target instance is execution input, unknown at deploy time; scoped to this account and region.",
            )

        master_secrets, own_secrets = "secret:rds!*", f"secret:{SECRET_NAME_PREFIX}*"
        database = iam.ManagedPolicy(
            self,
            "DatabasePolicy",
            description="rds-cdc-setup: connect to PostgreSQL with secrets, create the CDC user's secret",
            statements=[
                iam.PolicyStatement(
                    actions=["rds:DescribeDBInstances", "rds:RebootDBInstance"],
                    resources=[_arn("rds", db)],
                ),
                iam.PolicyStatement(
                    actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    resources=[_arn("secretsmanager", master_secrets), _arn("secretsmanager", own_secrets)],
                ),
                iam.PolicyStatement(
                    actions=[
                        "secretsmanager:CreateSecret",
                        "secretsmanager:TagResource",
                        "secretsmanager:PutSecretValue",
                    ],
                    resources=[_arn("secretsmanager", own_secrets)],
                ),
                iam.PolicyStatement(
                    actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                    resources=[self.key.key_arn],
                ),
                # RDS-managed master secrets may use any key of the account; only via Secrets Manager.
                iam.PolicyStatement(
                    actions=["kms:Decrypt"],
                    resources=[_arn("kms", "key/*")],
                    conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{Aws.REGION}.amazonaws.com"}},
                ),
            ],
        )
        _acknowledge_wildcard(
            database, "rds", db, "CheckRebootStatus describes/reboots the instance named in the execution input."
        )
        _acknowledge_wildcard(
            database,
            "secretsmanager",
            master_secrets,
            "RDS names master-user secrets rds!<id>; the instance is execution input.",
        )
        _acknowledge_wildcard(
            database,
            "secretsmanager",
            own_secrets,
            f"The workflow names the secrets it creates {SECRET_NAME_PREFIX}<instance>/<user>.",
        )
        _acknowledge_wildcard(
            database,
            "kms",
            "key/*",
            "The master secret's key is chosen by RDS or the DBA; Decrypt only via Secrets Manager.",
        )

        notify = iam.ManagedPolicy(
            self,
            "NotifyPolicy",
            description="rds-cdc-setup: publish to the notification topic",
            statements=[
                iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn]),
                # The topic is encrypted with the key.
                iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.key.key_arn]),
            ],
        )
        return {Access.RDS: rds, Access.DATABASE: database, Access.NOTIFY: notify}

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

    def _state_machine(self, log_retention: logs.RetentionDays) -> sfn.StateMachine:
        definition = ASL_FILE.read_text()
        substitutions = {f"{name}FunctionArn": fn.function_arn for name, fn in self.functions.items()}
        placeholders = set(re.findall(r"\$\{(\w+)\}", definition))
        if placeholders != set(substitutions):
            raise ValueError(f"{ASL_FILE.name} placeholders {sorted(placeholders)} != steps {sorted(substitutions)}")
        state_machine = sfn.StateMachine(
            self,
            "StateMachine",
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


def _arn(service: str, resource: str) -> str:
    # Pseudo-parameter refs, not stack.region, so the cdk-nag finding ids below never vary.
    return f"arn:{Aws.PARTITION}:{service}:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"


def _acknowledge_wildcard(scope: Construct, service: str, resource: str, reason: str) -> None:
    finding = f"arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"
    _acknowledge(scope, f"AwsSolutions-IAM5[Resource::{finding}]", reason)


def _acknowledge(scope: Construct, finding: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))
