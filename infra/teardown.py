"""The teardown workflow: one Lambda per task of statemachine/cdc_teardown.asl.json and its state machine.

It shares the setup workflow's key (the user's secret is encrypted with it) and topic."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

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
    asl_state_machine,
    grant_invoke,
    handler_module,
    powertools_environment,
    task_function,
    vpc_access_policy,
)
from infra.permissions import (
    SECRET_NAME_PREFIX,
    Grant,
    Scope,
    managed_policy,
    master_secrets,
    own_alarms,
    own_secret_delete,
    own_secret_describe,
    previous_parameter_groups,
    read_targets,
)
from infra.target_lock import TargetLock

__all__ = ["STATE_MACHINE_NAME", "TEARDOWN_STEPS", "CdcTeardownWorkflow", "handler_module"]

ASL_FILE = Path(__file__).resolve().parent.parent / "statemachine" / "cdc_teardown.asl.json"
STATE_MACHINE_NAME = "rds-cdc-teardown"


class Access(Enum):
    DESCRIBE = "Describe"  # describe the instance or cluster and its parameter groups
    REVERT = "Revert"  # attach the default (cluster) parameter group to the opted-in target again
    MASTER_SECRET = "MasterSecret"  # noqa: S105 - read the master secret to connect
    FIND_SECRET = "FindSecret"  # noqa: S105 - see whether the user's secret exists (and whose it is)
    DELETE_SECRET = "DeleteSecret"  # noqa: S105 - a policy name: delete the user's secret the workflow created
    NOTIFY = "Notify"
    FIND_ALARMS = "FindAlarms"  # see whether the alarms setup made exist (and carry its marker)
    DELETE_ALARMS = "DeleteAlarms"  # delete them: only alarms named with the workflow's prefix
    LOCK = "Lock"  # the target's lock setup takes too (infra/target_lock.py)


TEARDOWN_STEPS: tuple[tuple[str, bool, tuple[Access, ...]], ...] = (  # (ASL task, in the VPC, access)
    ("ValidateTeardownInput", False, ()),
    ("AcquireTeardownLock", False, (Access.LOCK,)),
    ("DescribeTeardownTarget", False, (Access.DESCRIBE,)),
    ("PlanTeardown", True, (Access.MASTER_SECRET, Access.DESCRIBE, Access.FIND_SECRET, Access.FIND_ALARMS)),
    ("DropSlot", True, (Access.MASTER_SECRET,)),
    ("DropPublication", True, (Access.MASTER_SECRET,)),
    ("DropSignalTables", True, (Access.MASTER_SECRET,)),
    ("DropUser", True, (Access.MASTER_SECRET, Access.DELETE_SECRET)),
    ("RevertParameterGroup", True, (Access.MASTER_SECRET, Access.DESCRIBE, Access.REVERT)),
    ("DropAlarms", False, (Access.DELETE_ALARMS,)),
    ("ReleaseTeardownLock", False, (Access.LOCK,)),
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
        lock: TargetLock,
        scope_of_access: Scope | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        policies = self._policies(key, topic, scope_of_access or Scope(), lock)
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
                # Only the lock steps know the lock table.
                environment={**environment, **(lock.environment() if Access.LOCK in access else {})},
                managed_policies=[policies[a] for a in access] + ([vpc_policy] if in_vpc and vpc_policy else []),
                network=network,
                log_retention=log_retention,
            )
            for task, in_vpc, access in TEARDOWN_STEPS
        }
        self.state_machine = self._state_machine(log_retention)

    def _policies(
        self, key: kms.IKey, topic: sns.ITopic, scope: Scope, lock: TargetLock
    ) -> dict[Access, iam.ManagedPolicy]:
        grants = {
            # DescribeTeardownTarget describes the target as setup does: instance or cluster, its group.
            Access.DESCRIBE: ("describe the instance or Aurora cluster and its parameter groups", read_targets()),
            Access.REVERT: (
                "attach the (cluster) parameter group setup replaced to the opted-in target again",
                previous_parameter_groups(scope),
            ),
            Access.MASTER_SECRET: ("connect to PostgreSQL with the master secret", master_secrets(scope)),
            Access.FIND_SECRET: ("find the CDC user's secret", own_secret_describe()),
            Access.DELETE_SECRET: ("delete the CDC user's secret the workflow created", own_secret_delete()),
            Access.FIND_ALARMS: ("read the workflow's CloudWatch alarms", own_alarms(["cloudwatch:DescribeAlarms"])),
            Access.DELETE_ALARMS: (
                "delete the CloudWatch alarms setup made for the target",
                own_alarms(["cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"]),
            ),
            Access.LOCK: ("take and release the target's lock, see whether its holder still runs", lock.grant()),
            Access.NOTIFY: (
                "publish to the notification topic",
                Grant(
                    [
                        iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn]),
                        iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn]),
                    ]
                ),
            ),
        }
        return {
            access: managed_policy(self, f"{access.value}Policy", f"rds-cdc-teardown: {description}", grant)
            for access, (description, grant) in grants.items()
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
