"""The step registry (lambdas/shared/steps.py) as CDK resources: what each Access grants, the
functions of one workflow (one per step, its role holding one customer-managed policy per access,
each made once per workflow on first use: no unattached policies) and the state machine running the
workflow's ASL file with their ARNs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import permissions
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
from infra.permissions import Grant, Scope, managed_policy
from infra.schedule import GROUP_SCHEDULES, CheckSchedules
from infra.target_lock import TargetLock
from lambdas.shared.names import CHECK_METRICS_NAMESPACE
from lambdas.shared.steps import Access, Workflow, steps_of

STATEMACHINE_DIR = Path(__file__).resolve().parent.parent / "statemachine"


@dataclass(frozen=True, kw_only=True)
class Resources:
    """What the grants name; a workflow gives those its steps' accesses need."""

    scope: Scope
    key_arn: str | None = None  # the workflow's key: the CDC user's secret and the topic
    topic_arn: str | None = None
    lock: TargetLock | None = None
    schedules: CheckSchedules | None = None  # the check schedule group and Scheduler's role


def grant(access: Access, resources: Resources) -> tuple[str, Grant]:
    """(description, grant) of an access."""
    scope = resources.scope
    if access is Access.RDS_READ:
        return "read RDS instances, Aurora clusters, their parameter groups and tags", permissions.read_targets()
    if access is Access.TARGET_DESCRIBE:
        return (
            "describe RDS instances, Aurora clusters and their parameter groups (no parameter values, no tags)",
            permissions.read_targets(parameters=False, tags="none"),
        )
    if access is Access.GROUP_OWNER_READ:
        return (
            "describe RDS instances, Aurora clusters and their parameter groups, and the groups' tags",
            permissions.read_targets(parameters=False, tags="groups"),
        )
    if access is Access.INSTANCE_READ:
        return "read the status of the instance, or the Aurora cluster and its writer", permissions.read_instances()
    if access is Access.TRIGGER_READ:
        return "read the tags of the instance or Aurora cluster an event names, its cluster or writer", trigger_read()
    if access is Access.FLEET_LIST:
        return "list RDS instances and their tags to resolve the fleet", fleet_list()
    if access is Access.PARAMETER_GROUP:
        return (
            "create, copy and change its own (cluster) parameter groups, attach one to an opted-in target",
            permissions.own_parameter_groups(scope),
        )
    if access is Access.PARAMETER_GROUP_REVERT:
        return (
            "attach the (cluster) parameter group setup replaced to the opted-in target again",
            permissions.previous_parameter_groups(scope),
        )
    if access is Access.REBOOT:
        return "reboot the opted-in instance (an Aurora cluster's writer)", permissions.reboot(scope)
    if access is Access.MASTER_SECRET:
        return "read the master user's secret", permissions.master_secrets(scope)
    if access is Access.USER_SECRET_READ:
        return "read the CDC user's secret the workflow created", permissions.own_secret_read(_key(resources))
    if access is Access.USER_SECRET_LOOKUP:
        return "see whether a secret at the CDC user's secret name is the workflow's", permissions.own_secret_describe()
    if access is Access.USER_SECRET_CREATE:
        return (
            "create the CDC user's secret with the owner tag, encrypted with the workflow's key",
            permissions.own_secret_create(_key(resources)),
        )
    if access is Access.USER_SECRET_DELETE:
        return "delete the CDC user's secret the workflow created", permissions.own_secret_delete()
    if access is Access.NOTIFY:
        if resources.topic_arn is None:
            raise ValueError("Access.NOTIFY needs the notification topic")
        return (
            "publish to the notification topic",
            Grant(
                [
                    iam.PolicyStatement(actions=["sns:Publish"], resources=[resources.topic_arn]),
                    # The topic is encrypted with the key.
                    iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[_key(resources)]),
                ]
            ),
        )
    if access is Access.ALARMS:
        return (
            "create and read the workflow's CloudWatch alarms",
            permissions.own_alarms(["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms"]),
        )
    if access is Access.ALARMS_READ:
        return "read the workflow's CloudWatch alarms", permissions.own_alarms(["cloudwatch:DescribeAlarms"])
    if access is Access.ALARMS_DELETE:
        return (
            "delete the CloudWatch alarms setup made for the target",
            permissions.own_alarms(["cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"]),
        )
    if access is Access.STREAMKAP_API_SECRET:
        return "read the Streamkap API credentials (secrets streamkap-api/...)", permissions.streamkap_api_secrets()
    if access is Access.SOURCE_RECORD:
        return (
            "record the Streamkap source id as a tag on the CDC user's secret the workflow created",
            permissions.own_secret_source_record(),
        )
    if access is Access.SECURITY_GROUP_READ:
        return "describe security groups (EC2 scopes none)", permissions.read_security_groups()
    if access is Access.SECURITY_GROUP:
        return (
            "create its own security group, change its inbound rules, attach it to an opted-in target",
            permissions.own_security_groups(scope),
        )
    if access is Access.SECURITY_GROUP_DELETE:
        return (
            "detach its own security group from an opted-in target and delete it",
            permissions.own_security_group_delete(scope),
        )
    if access is Access.FINDINGS_METRICS:
        return (
            f"put the check's finding metrics (namespace {CHECK_METRICS_NAMESPACE} only)",
            permissions.finding_metrics(),
        )
    if access in (Access.CHECK_SCHEDULE, Access.CHECK_SCHEDULE_READ, Access.CHECK_SCHEDULE_DELETE):
        return check_schedules(access, resources)
    if access is Access.BLUE_GREEN_READ:
        return (
            "describe blue/green deployments (an event names the deployment, not its databases)",
            Grant(
                [
                    iam.PolicyStatement(
                        actions=["rds:DescribeBlueGreenDeployments"], resources=[arn("rds", "deployment:*")]
                    )
                ],
                [("rds", "deployment:*", "A lifecycle event names its deployment only once it happens: read-only.")],
            ),
        )
    if access in (Access.LOCK_TAKE, Access.LOCK_RELEASE, Access.FINDINGS_RECORD):
        if resources.lock is None:
            raise ValueError(f"{access} needs the lock table")
        if access is Access.FINDINGS_RECORD:
            return "read and write the last check's findings of a target (the lock table's check# items only)", (
                resources.lock.grant_findings_record()
            )
        if access is Access.LOCK_TAKE:
            return "take the target's lock, see whether its holder still runs", resources.lock.grant_take()
        return "give the target's lock back", resources.lock.grant_release()
    raise ValueError(f"no grant for {access}")  # a new Access without its grant here


def _key(resources: Resources) -> str:
    if resources.key_arn is None:
        raise ValueError("this access needs the workflow's key")
    return resources.key_arn


def check_schedules(access: Access, resources: Resources) -> tuple[str, Grant]:
    """Schedules of the check schedule group only (every schedule in it is the workflow's: infra/schedule.py)."""
    schedules = arn("scheduler", GROUP_SCHEDULES)  # the group's name is fixed: names.CHECK_SCHEDULE_GROUP
    reason = "The check schedules of prepared targets, named after the target: the template's group only."
    wildcard = ("scheduler", GROUP_SCHEDULES, reason)
    if access is Access.CHECK_SCHEDULE:
        if resources.schedules is None:
            raise ValueError(f"{access} needs Scheduler's role (infra/schedule.py CheckSchedules)")
        return (
            "create and update the check schedules of the template's group; hand Scheduler the check's role",
            Grant(
                [
                    iam.PolicyStatement(
                        actions=["scheduler:GetSchedule", "scheduler:CreateSchedule", "scheduler:UpdateSchedule"],
                        resources=[schedules],
                    ),
                    iam.PolicyStatement(
                        actions=["iam:PassRole"],
                        resources=[resources.schedules.role.role_arn],
                        conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
                    ),
                ],
                [wildcard],
            ),
        )
    if access is Access.CHECK_SCHEDULE_DELETE:
        return (
            "delete check schedules of the template's group",
            Grant([iam.PolicyStatement(actions=["scheduler:DeleteSchedule"], resources=[schedules])], [wildcard]),
        )
    return (
        "find and read the check schedules of the template's group",
        Grant(
            [
                iam.PolicyStatement(actions=["scheduler:GetSchedule"], resources=[schedules]),
                # AWS scopes ListSchedules to no resource; the function lists the template's group only.
                iam.PolicyStatement(actions=["scheduler:ListSchedules"], resources=["*"]),
            ],
            [
                wildcard,
                (permissions.LITERAL, "*", "scheduler:ListSchedules takes no resource-level scope (AWS); names only."),
            ],
        ),
    )


def trigger_read() -> Grant:
    """ListTagsForResource on both ARN kinds an event names; DescribeDBInstances tells an Aurora
    member (skipped), DescribeDBClusters whether a new cluster has its writer yet. Read only, on
    any instance: it is what decides whether the event's target opted in."""
    return Grant(
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
            ("rds", permissions.DB, "The instance is named by the EventBridge event, unknown at deploy time."),
            ("rds", permissions.CLUSTER, "The Aurora cluster is named by the event, unknown at deploy time."),
        ],
    )


def fleet_list() -> Grant:
    return Grant(
        [iam.PolicyStatement(actions=["rds:DescribeDBInstances"], resources=[arn("rds", permissions.DB)])],
        [("rds", permissions.DB, "The fleet is selected by tag among every instance.")],
    )


def workflow_functions(
    scope: Construct,
    workflow: Workflow,
    *,
    service: str,
    resources: Resources,
    environment: dict[str, str],
    network: DataPlaneNetwork | None,
    log_retention: logs.RetentionDays,
) -> dict[str, lambda_.Function]:
    """One function per registry step of `workflow`, by step name. Only the lock steps (and PublishFindings,
    which keeps the last check's findings there) get the lock table's environment."""
    policies: dict[Access, iam.ManagedPolicy] = {}

    def policy(access: Access) -> iam.ManagedPolicy:
        if access not in policies:
            description, granted = grant(access, resources)
            policies[access] = managed_policy(scope, f"{access.value}Policy", f"{service}: {description}", granted)
        return policies[access]

    vpc_policy = (
        vpc_access_policy(scope, f"{service}: network interfaces for the functions in the VPC") if network else None
    )
    code = lambda_code(scope, runtime=RUNTIME, architecture=ARCHITECTURE)
    shared = {**powertools_environment(service), **environment}
    functions = {}
    for step in steps_of(workflow):
        managed = [policy(access) for access in step.access]
        if step.in_vpc and vpc_policy:
            managed.append(vpc_policy)
        uses_lock = {Access.LOCK_TAKE, Access.LOCK_RELEASE, Access.FINDINGS_RECORD} & set(step.access)
        lock_environment = resources.lock.environment() if resources.lock and uses_lock else {}
        functions[step.name] = task_function(
            scope,
            step,
            description=f"{service} step {step.name}",
            code=code,
            environment={**shared, **lock_environment},
            managed_policies=managed,
            network=network,
            log_retention=log_retention,
        )
    return functions


def workflow_state_machine(
    scope: Construct,
    workflow: Workflow,
    *,
    name: str,
    functions: Mapping[str, lambda_.IFunction],
    log_retention: logs.RetentionDays,
    substitutions: Mapping[str, str] | None = None,
) -> sfn.StateMachine:
    """The state machine running the workflow's ASL file, its ${<step>FunctionArn} placeholders set to
    `functions` (a placeholder without a step, or a step without its Task, fails the synth), allowed to
    invoke exactly them. `substitutions`: its other placeholders."""
    state_machine = asl_state_machine(
        scope,
        name=name,
        definition=(STATEMACHINE_DIR / workflow.value).read_text(),
        substitutions={
            **{f"{step}FunctionArn": function.function_arn for step, function in functions.items()},
            **(substitutions or {}),
        },
        log_retention=log_retention,
    )
    grant_invoke(state_machine, list(functions.values()))
    return state_machine


# What Step Functions uses to learn that a .sync child execution ended.
SYNC_RULE = "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"


def grant_child_executions(state_machine: sfn.StateMachine, *, child_arn: str, child_name: str, reason: str) -> None:
    """A Map's states:startExecution.sync:2 of another state machine (or itself): start it, follow and stop
    its executions (named at start, so a wildcard on that machine's only), and the rule .sync relies on."""
    child_executions = f"execution:{child_name}:*"
    for statement in (
        iam.PolicyStatement(actions=["states:StartExecution"], resources=[child_arn]),
        iam.PolicyStatement(
            actions=["states:DescribeExecution", "states:StopExecution"], resources=[arn("states", child_executions)]
        ),
        iam.PolicyStatement(
            actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"], resources=[arn("events", SYNC_RULE)]
        ),
    ):
        state_machine.add_to_role_policy(statement)
    acknowledge_wildcard(state_machine, "states", child_executions, reason)
