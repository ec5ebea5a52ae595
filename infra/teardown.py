"""The teardown workflow: one Lambda per task of statemachine/cdc_teardown.asl.json and its state machine.

It shares the setup workflow's key (the user's secret is encrypted with it) and topic."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from pathlib import Path

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
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
    handler_module,
    powertools_environment,
    task_function,
    vpc_access_policy,
)
from infra.workflow import SECRET_NAME_PREFIX

__all__ = ["STATE_MACHINE_NAME", "TEARDOWN_STEPS", "CdcTeardownWorkflow", "handler_module"]

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
        master_secret_arns: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        policies = self._policies(key, topic, list(master_secret_arns))
        vpc_policy = (
            vpc_access_policy(self, "rds-cdc-teardown: network interfaces for the functions in the VPC")
            if network
            else None
        )
        code = lambda_code(runtime=RUNTIME, architecture=ARCHITECTURE)
        environment = {
            **powertools_environment("rds-cdc-teardown"),
            "NOTIFICATION_TOPIC_ARN": topic.topic_arn,
            "SECRET_NAME_PREFIX": SECRET_NAME_PREFIX,
        }
        self.functions = {
            task: task_function(
                self,
                task,
                description=f"rds-cdc-setup teardown step {task}",
                in_vpc=in_vpc,
                code=code,
                environment=environment,
                managed_policies=[policies[a] for a in access] + ([vpc_policy] if in_vpc and vpc_policy else []),
                network=network,
                log_retention=log_retention,
            )
            for task, in_vpc, access in TEARDOWN_STEPS
        }
        self.state_machine = self._state_machine(log_retention)

    def _policies(
        self, key: kms.IKey, topic: sns.ITopic, master_secret_arns: list[str]
    ) -> dict[Access, iam.ManagedPolicy]:
        db, pg = "db:*", "pg:*"
        cluster, cluster_pg = "cluster:*", "cluster-pg:*"  # Aurora
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
            "describe the instance or Aurora cluster and its parameter groups",
            iam.PolicyStatement(
                actions=["rds:DescribeDBInstances", "rds:DescribeDBParameterGroups", "rds:DescribeDBParameters"],
                resources=[arn("rds", db), arn("rds", pg)],
            ),
            iam.PolicyStatement(actions=["rds:DescribeDBClusters"], resources=[arn("rds", cluster)]),
        )
        revert = policy(
            Access.REVERT,
            "attach the default (cluster) parameter group again",
            iam.PolicyStatement(actions=["rds:ModifyDBInstance"], resources=[arn("rds", db), arn("rds", pg)]),
            iam.PolicyStatement(
                actions=["rds:ModifyDBCluster"], resources=[arn("rds", cluster), arn("rds", cluster_pg)]
            ),
        )
        database = policy(
            Access.DATABASE,
            "connect to PostgreSQL with the master secret",
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                resources=[
                    arn("secretsmanager", master_secrets),
                    arn("secretsmanager", own_secrets),
                    *master_secret_arns,
                ],
            ),
            iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn]),
            # RDS-managed master secrets may use any key of the account; only via Secrets Manager.
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[arn("kms", "key/*")],
                conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{Aws.REGION}.amazonaws.com"}},
            ),
        )
        delete_secret = policy(
            Access.DELETE_SECRET,
            "delete the CDC user's secret",
            iam.PolicyStatement(
                actions=["secretsmanager:DescribeSecret", "secretsmanager:DeleteSecret"],
                resources=[arn("secretsmanager", own_secrets)],
            ),
        )
        notify = policy(
            Access.NOTIFY,
            "publish to the notification topic",
            iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn]),
            iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn]),
        )
        reason = "The target is execution input, unknown at deploy time; scoped to this account and region."
        acknowledge_wildcard(describe, "rds", cluster, reason)
        for scope in (describe, revert):
            for resource in (db, pg):
                acknowledge_wildcard(scope, "rds", resource, reason)
        for resource in (cluster, cluster_pg):
            acknowledge_wildcard(revert, "rds", resource, reason)
        acknowledge_wildcard(
            database,
            "secretsmanager",
            master_secrets,
            "RDS names master-user secrets rds!<id>; input names the instance.",
        )
        for scope in (database, delete_secret):
            acknowledge_wildcard(
                scope,
                "secretsmanager",
                own_secrets,
                f"Setup names the secrets it creates {SECRET_NAME_PREFIX}<instance>/<user>.",
            )
        acknowledge_wildcard(
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
        state_machine = asl_state_machine(
            self,
            name=STATE_MACHINE_NAME,
            definition=definition,
            substitutions={f"{task}FunctionArn": fn.function_arn for task, fn in self.functions.items()},
            log_retention=log_retention,
        )
        grant_invoke(state_machine, list(self.functions.values()))
        return state_machine
