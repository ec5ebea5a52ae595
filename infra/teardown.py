"""The teardown workflow: one Lambda per task of statemachine/cdc_teardown.asl.json and its state machine.

It shares the setup workflow's key (the user's secret is encrypted with it) and topic."""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import Enum
from pathlib import Path

from aws_cdk import Aws, Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.bundling import lambda_code
from infra.workflow import (
    ARCHITECTURE,
    RUNTIME,
    SECRET_NAME_PREFIX,
    DataPlaneNetwork,
    _acknowledge,
    _acknowledge_wildcard,
    _arn,
)

ASL_FILE = Path(__file__).resolve().parent.parent / "statemachine" / "cdc_teardown.asl.json"
STATE_MACHINE_NAME = "rds-cdc-teardown"


class Access(Enum):
    DESCRIBE = "Describe"  # describe instances and parameter groups
    REVERT = "Revert"  # attach another parameter group to an instance
    DATABASE = "Database"  # read the master/user secrets to connect
    DELETE_SECRET = "DeleteSecret"  # noqa: S105 - a policy name: delete the user's secret
    NOTIFY = "Notify"


TEARDOWN_STEPS: tuple[tuple[str, bool, tuple[Access, ...]], ...] = (  # (ASL task, in the VPC, access)
    ("ValidateTeardownInput", False, ()),
    ("DescribeTeardownTarget", False, (Access.DESCRIBE,)),
    ("PlanTeardown", True, (Access.DATABASE, Access.DESCRIBE)),
    ("DropSlot", True, (Access.DATABASE,)),
    ("DropPublication", True, (Access.DATABASE,)),
    ("DropSignalTables", True, (Access.DATABASE,)),
    ("DropUser", True, (Access.DATABASE, Access.DELETE_SECRET)),
    ("RevertParameterGroup", True, (Access.DATABASE, Access.DESCRIBE, Access.REVERT)),
    ("ReportTeardown", False, (Access.NOTIFY,)),
    ("NotifyTeardownFailure", False, (Access.NOTIFY,)),
)


def handler_module(task: str) -> str:
    """DropSlot -> drop_slot: the convention local/workflow_runner.py follows too."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", task).lower()


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
    ) -> None:
        super().__init__(scope, construct_id)
        policies = self._policies(key, topic)
        code = lambda_code(runtime=RUNTIME, architecture=ARCHITECTURE)
        environment = {
            "POWERTOOLS_SERVICE_NAME": "rds-cdc-teardown",
            "POWERTOOLS_METRICS_NAMESPACE": "RdsCdcSetup",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "NOTIFICATION_TOPIC_ARN": topic.topic_arn,
            "SECRET_NAME_PREFIX": SECRET_NAME_PREFIX,
        }
        self.functions = {
            task: self._function(
                task,
                in_vpc=in_vpc,
                code=code,
                environment=environment,
                managed_policies=[policies[a] for a in access],
                network=network if in_vpc else None,
                log_retention=log_retention,
            )
            for task, in_vpc, access in TEARDOWN_STEPS
        }
        self.state_machine = self._state_machine(log_retention)

    def _function(
        self,
        task: str,
        *,
        in_vpc: bool,
        code: lambda_.Code,
        environment: dict[str, str],
        managed_policies: Sequence[iam.IManagedPolicy],
        network: DataPlaneNetwork | None,
        log_retention: logs.RetentionDays,
    ) -> lambda_.Function:
        role = iam.Role(
            self,
            f"{task}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            managed_policies=list(managed_policies),
        )
        if network:  # what AWSLambdaVPCAccessExecutionRole grants, kept inline
            role.add_to_policy(
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
            )
        log_group = logs.LogGroup(self, f"{task}Logs", retention=log_retention)
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            f"{task}Function",
            description=f"rds-cdc-setup teardown step {task}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=code,
            handler=f"lambdas.handlers.{handler_module(task)}.handler",
            memory_size=256,
            timeout=Duration.seconds(120 if in_vpc else 60),
            tracing=lambda_.Tracing.ACTIVE,
            role=role,
            log_group=log_group,
            environment=environment,
            vpc=network.vpc if network else None,
            vpc_subnets=ec2.SubnetSelection(subnets=list(network.subnets)) if network else None,
            security_groups=list(network.security_groups) if network else None,
        )
        _acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray and the VPC network-interface actions support no resource-level permissions.",
        )
        _acknowledge(function, "AwsSolutions-L1", "Python 3.12 on purpose: the asset's wheels are built for cp312.")
        return function

    def _policies(self, key: kms.IKey, topic: sns.ITopic) -> dict[Access, iam.ManagedPolicy]:
        db, pg = "db:*", "pg:*"
        master_secrets, own_secrets = "secret:rds!*", f"secret:{SECRET_NAME_PREFIX}*"

        def policy(access: Access, description: str, *statements: iam.PolicyStatement) -> iam.ManagedPolicy:
            return iam.ManagedPolicy(
                self,
                f"{access.value}Policy",
                description=f"rds-cdc-teardown: {description}",
                statements=list(statements),
            )

        describe = policy(
            Access.DESCRIBE,
            "describe the instance and its parameter groups",
            iam.PolicyStatement(
                actions=["rds:DescribeDBInstances", "rds:DescribeDBParameterGroups", "rds:DescribeDBParameters"],
                resources=[_arn("rds", db), _arn("rds", pg)],
            ),
        )
        revert = policy(
            Access.REVERT,
            "attach the default parameter group again",
            iam.PolicyStatement(actions=["rds:ModifyDBInstance"], resources=[_arn("rds", db), _arn("rds", pg)]),
        )
        database = policy(
            Access.DATABASE,
            "connect to PostgreSQL with the master secret",
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                resources=[_arn("secretsmanager", master_secrets), _arn("secretsmanager", own_secrets)],
            ),
            iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn]),
            # RDS-managed master secrets may use any key of the account; only via Secrets Manager.
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[_arn("kms", "key/*")],
                conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{Aws.REGION}.amazonaws.com"}},
            ),
        )
        delete_secret = policy(
            Access.DELETE_SECRET,
            "delete the CDC user's secret",
            iam.PolicyStatement(
                actions=["secretsmanager:DescribeSecret", "secretsmanager:DeleteSecret"],
                resources=[_arn("secretsmanager", own_secrets)],
            ),
        )
        notify = policy(
            Access.NOTIFY,
            "publish to the notification topic",
            iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn]),
            iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn]),
        )
        reason = "The target instance is execution input, unknown at deploy time; scoped to this account and region."
        for scope in (describe, revert):
            for resource in (db, pg):
                _acknowledge_wildcard(scope, "rds", resource, reason)
        _acknowledge_wildcard(
            database,
            "secretsmanager",
            master_secrets,
            "RDS names master-user secrets rds!<id>; input names the instance.",
        )
        for scope in (database, delete_secret):
            _acknowledge_wildcard(
                scope,
                "secretsmanager",
                own_secrets,
                f"Setup names the secrets it creates {SECRET_NAME_PREFIX}<instance>/<user>.",
            )
        _acknowledge_wildcard(
            database,
            "kms",
            "key/*",
            "The master secret's key is chosen by RDS or the DBA; Decrypt only via Secrets Manager.",
        )
        return {
            Access.DESCRIBE: describe,
            Access.REVERT: revert,
            Access.DATABASE: database,
            Access.DELETE_SECRET: delete_secret,
            Access.NOTIFY: notify,
        }

    def _state_machine(self, log_retention: logs.RetentionDays) -> sfn.StateMachine:
        definition = ASL_FILE.read_text()
        substitutions = {f"{task}FunctionArn": fn.function_arn for task, fn in self.functions.items()}
        placeholders = set(re.findall(r"\$\{(\w+)\}", definition))
        if placeholders != set(substitutions):
            raise ValueError(f"{ASL_FILE.name} placeholders {sorted(placeholders)} != steps {sorted(substitutions)}")
        state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=STATE_MACHINE_NAME,
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
