"""The step registry: every Lambda step of the four workflows, written down once.

infra/ builds one function per step with the policies of its `access` (in the VPC when `in_vpc`),
local/workflow_runner.py finds its handler, the reports collect `changes` from the result keys of
the steps that make them, the crash-convergence test kills a run after each step, and
tests/unit/test_registry.py checks each ASL file against it both ways (a Task per step, a step per
Task, the ResultPath of each). Adding a step: its entry here, its Task in the ASL, its result (and
input) model in lambdas/shared/*models.py, its handler, its logic.

Pure data: no AWS or CDK imports, so infra/ (synth), lambdas/ (Lambda) and local/ all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from lambdas.shared.names import HANDLERS_PACKAGE, handler_module


class Workflow(Enum):
    """A state machine; the value is its ASL file in statemachine/."""

    SETUP = "cdc_setup.asl.json"
    TEARDOWN = "cdc_teardown.asl.json"
    FLEET = "cdc_fleet.asl.json"
    CHECK = "cdc_check.asl.json"

    @property
    def state_machine_name(self) -> str:
        """Its deployed name, which the lock policy, the notices and the local runner use too:
        cdc_setup.asl.json -> rds-cdc-setup."""
        return "rds-" + self.value.removesuffix(".asl.json").replace("_", "-")


class Access(Enum):
    """What a step's function may touch. Each is one customer-managed policy, its grant in
    infra/step_access.py; the value names the policy."""

    RDS_READ = "RdsRead"  # describe instances, clusters, parameter groups; read their tags
    TARGET_DESCRIBE = "DescribeTargets"  # describe instances, clusters, parameter groups: no parameters, no tags
    GROUP_OWNER_READ = "ReadGroupOwners"  # the same, and the parameter groups' tags (whose is the group)
    INSTANCE_READ = "InstanceRead"  # the status of the instance, or of the cluster and its writer
    TRIGGER_READ = "TriggerRead"  # the tags and cluster membership of an event's instance or cluster
    FLEET_LIST = "ListInstances"  # list every instance and its tags: the fleet is selected by tag
    PARAMETER_GROUP = "ParameterGroup"  # create/copy/change own parameter groups, attach one to the target
    PARAMETER_GROUP_REVERT = "RevertParameterGroup"  # attach the group setup replaced to the target again
    REBOOT = "Reboot"  # reboot the opted-in target
    MASTER_SECRET = "MasterSecret"  # noqa: S105 - read the master user's secret
    USER_SECRET_READ = "UserSecretRead"  # noqa: S105 - read the CDC user's secret (the workflow's own)
    USER_SECRET_LOOKUP = "UserSecretLookup"  # noqa: S105 - whose is the secret at the CDC user's secret name
    USER_SECRET_CREATE = "UserSecret"  # noqa: S105 - create the CDC user's secret, encrypted with the key
    USER_SECRET_DELETE = "DeleteSecret"  # noqa: S105 - delete the CDC user's secret the workflow created
    NOTIFY = "Notify"  # publish to the notification topic
    ALARMS = "Alarms"  # create and read the workflow's CloudWatch alarms
    ALARMS_READ = "FindAlarms"  # see whether the alarms setup made exist (and carry its marker)
    ALARMS_DELETE = "DeleteAlarms"  # delete them: only alarms named with the workflow's prefix
    LOCK_TAKE = "TakeLock"  # take the target's lock (infra/target_lock.py), see whether its holder runs
    LOCK_RELEASE = "GiveBackLock"  # delete the lock's item, only where this execution holds it
    FINDINGS_METRICS = "PutFindingMetrics"  # PutMetricData in the check's namespace only (names.py)
    FINDINGS_RECORD = "RecordFindings"  # read and write the lock table's check# items: the last run's findings
    STREAMKAP_API_SECRET = "StreamkapApiSecret"  # noqa: S105 - read Streamkap API credentials (streamkap-api/*)
    SOURCE_RECORD = "RecordSource"  # read and set the source-id tag on the CDC user's secret (the workflow's)
    SECURITY_GROUP_READ = "FindSecurityGroups"  # describe security groups (AWS scopes no EC2 Describe call)
    SECURITY_GROUP = "SecurityGroup"  # create own groups (tagged), change their rules, attach one to the target
    SECURITY_GROUP_DELETE = "DeleteSecurityGroup"  # detach own groups from the opted-in target, delete them
    CHECK_SCHEDULE = "CheckSchedule"  # create/update schedules in the check schedule group, pass Scheduler's role
    CHECK_SCHEDULE_READ = "ReadCheckSchedules"  # list and read the schedules of the check schedule group
    BLUE_GREEN_READ = "ReadBlueGreenDeployments"  # which databases a blue/green deployment's event is about
    CHECK_SCHEDULE_DELETE = "DeleteCheckSchedule"  # read and delete schedules of the check schedule group


@dataclass(frozen=True, kw_only=True)
class Step:
    name: str  # the ASL Task's state name; its placeholder is ${<name>FunctionArn}
    workflow: Workflow
    # The Task's ResultPath: "$.<key>" adds the result under <key> (a field of the workflow's state
    # model), "$" replaces the state, None discards the result.
    result_path: str | None
    in_vpc: bool = False  # data plane: speaks SQL to the database
    access: tuple[Access, ...] = ()
    changes: bool = False  # its result's `changes` list what it changed; the report collects them
    undone_by: tuple[str, ...] = ()  # the teardown steps that remove what it creates

    @property
    def handler(self) -> str:
        """The Lambda handler: DropSlot -> lambdas.handlers.drop_slot.handler."""
        return f"{HANDLERS_PACKAGE}.{handler_module(self.name)}.handler"

    @property
    def result_key(self) -> str | None:
        """The state key the result goes under; None where it replaces the state or is discarded."""
        return self.result_path.removeprefix("$.") if self.result_path and self.result_path != "$" else None

    @property
    def placeholder(self) -> str:
        return f"{self.name}FunctionArn"


S, T, F, C = Workflow.SETUP, Workflow.TEARDOWN, Workflow.FLEET, Workflow.CHECK
A = Access

# In the order a run meets them (the reports list changes in this order).
STEPS: tuple[Step, ...] = (
    Step(name="ReadTriggerTags", workflow=S, result_path="$.trigger", access=(A.TRIGGER_READ,)),
    Step(name="ValidateInput", workflow=S, result_path="$"),
    Step(name="AcquireLock", workflow=S, result_path="$.lock", access=(A.LOCK_TAKE,)),
    Step(name="DescribeSelfManagedTarget", workflow=S, result_path="$.target"),  # from the input alone
    # With allow_cidrs it plans the security group too: whose is the group at the workflow's name.
    Step(name="DescribeTarget", workflow=S, result_path="$.target", access=(A.RDS_READ, A.SECURITY_GROUP_READ)),
    # Preflight says in the plan whose secret is at the CDC user's secret name.
    Step(
        name="Preflight",
        workflow=S,
        result_path="$.preflight",
        in_vpc=True,
        access=(A.MASTER_SECRET, A.USER_SECRET_LOOKUP),
    ),
    Step(
        name="EnsureParameterGroup",
        workflow=S,
        result_path="$.parameter_group",
        access=(A.RDS_READ, A.PARAMETER_GROUP),
        changes=True,
        undone_by=("RevertParameterGroup",),
    ),
    # A reboot is not undone: teardown's RevertParameterGroup leaves the next reboot to the DBA.
    Step(
        name="RebootInstance",
        workflow=S,
        result_path="$.reboot",
        access=(A.INSTANCE_READ, A.REBOOT),
        changes=True,
    ),
    Step(
        name="CheckRebootStatus",
        workflow=S,
        result_path="$.reboot_status",
        in_vpc=True,
        access=(A.INSTANCE_READ, A.REBOOT, A.MASTER_SECRET),
    ),
    Step(
        name="ConfigureDatabase",
        workflow=S,
        result_path="$.configure",
        in_vpc=True,
        access=(A.MASTER_SECRET, A.USER_SECRET_READ, A.USER_SECRET_CREATE),
        changes=True,
        undone_by=("DropPublication", "DropSignalTables", "DropUser"),
    ),
    Step(
        name="CreateAlarms",
        workflow=S,
        result_path="$.alarms",
        access=(A.ALARMS,),
        changes=True,
        undone_by=("DropAlarms",),
    ),
    Step(
        name="CreateSlot",
        workflow=S,
        result_path="$.slot",
        in_vpc=True,
        access=(A.MASTER_SECRET,),
        changes=True,
        undone_by=("DropSlot",),
    ),
    # Connects as the CDC user: no master secret.
    Step(name="Verify", workflow=S, result_path="$.verification", in_vpc=True, access=(A.USER_SECRET_READ,)),
    # The check's schedule of the target (lambdas/logic/schedule.py), on the Ready path after Verify: the
    # record that setup prepared it, read by the check the RDS lifecycle rules start.
    Step(
        name="EnsureCheckSchedule",
        workflow=S,
        result_path="$.check_schedule",
        access=(A.CHECK_SCHEDULE,),
        changes=True,
        undone_by=("DropCheckSchedule",),
    ),
    # allow_cidrs only; after Verify, so network access opens once the database is proven, and before
    # RegisterSource, whose connector needs it.
    Step(
        name="EnsureSecurityGroup",
        workflow=S,
        result_path="$.security_group",
        access=(A.INSTANCE_READ, A.SECURITY_GROUP_READ, A.SECURITY_GROUP),
        changes=True,
        undone_by=("DropSecurityGroup",),
    ),
    # With streamkap_api_secret_arn only. Outside the VPC: Streamkap's API is on the internet. Not undone
    # by teardown (tests/unit/test_registry.py NOT_UNDONE says why).
    Step(
        name="RegisterSource",
        workflow=S,
        result_path="$.source",
        access=(A.USER_SECRET_READ, A.STREAMKAP_API_SECRET, A.SOURCE_RECORD),
        changes=True,
    ),
    Step(
        name="ConfirmSourceStreaming",
        workflow=S,
        result_path="$.source_streaming",
        in_vpc=True,
        access=(A.USER_SECRET_READ,),
    ),
    Step(name="ReleaseLock", workflow=S, result_path=None, access=(A.LOCK_RELEASE,)),
    Step(name="Report", workflow=S, result_path="$", access=(A.NOTIFY,)),
    Step(name="NotifyFailure", workflow=S, result_path="$.failure", access=(A.NOTIFY,)),
    Step(name="ValidateTeardownInput", workflow=T, result_path="$"),
    Step(name="AcquireTeardownLock", workflow=T, result_path="$.lock", access=(A.LOCK_TAKE,)),
    Step(name="DescribeTeardownTarget", workflow=T, result_path="$.target", access=(A.TARGET_DESCRIBE,)),
    Step(
        name="PlanTeardown",
        workflow=T,
        result_path="$.plan",
        in_vpc=True,
        access=(A.MASTER_SECRET, A.GROUP_OWNER_READ, A.USER_SECRET_LOOKUP, A.ALARMS_READ, A.SECURITY_GROUP_READ),
    ),
    Step(name="DropSlot", workflow=T, result_path="$.slot", in_vpc=True, access=(A.MASTER_SECRET,), changes=True),
    Step(
        name="DropPublication",
        workflow=T,
        result_path="$.publication",
        in_vpc=True,
        access=(A.MASTER_SECRET,),
        changes=True,
    ),
    Step(
        name="DropSignalTables",
        workflow=T,
        result_path="$.tables",
        in_vpc=True,
        access=(A.MASTER_SECRET,),
        changes=True,
    ),
    Step(
        name="DropUser",
        workflow=T,
        result_path="$.user",
        in_vpc=True,
        access=(A.MASTER_SECRET, A.USER_SECRET_DELETE),
        changes=True,
    ),
    Step(
        name="RevertParameterGroup",
        workflow=T,
        result_path="$.parameter_group",
        in_vpc=True,
        access=(A.MASTER_SECRET, A.GROUP_OWNER_READ, A.PARAMETER_GROUP_REVERT),
        changes=True,
    ),
    Step(name="DropAlarms", workflow=T, result_path="$.alarms", access=(A.ALARMS_DELETE,), changes=True),
    Step(
        name="DropSecurityGroup",
        workflow=T,
        result_path="$.security_group",
        access=(A.INSTANCE_READ, A.SECURITY_GROUP_READ, A.SECURITY_GROUP_DELETE),
        changes=True,
    ),
    Step(
        name="DropCheckSchedule",
        workflow=T,
        result_path="$.check_schedule",
        access=(A.CHECK_SCHEDULE_DELETE,),
        changes=True,
    ),
    Step(name="ReleaseTeardownLock", workflow=T, result_path=None, access=(A.LOCK_RELEASE,)),
    Step(name="ReportTeardown", workflow=T, result_path="$", access=(A.NOTIFY,)),
    Step(name="NotifyTeardownFailure", workflow=T, result_path="$.failure", access=(A.NOTIFY,)),
    Step(name="ResolveFleet", workflow=F, result_path="$.fleet", access=(A.FLEET_LIST,)),
    Step(name="SummarizeMember", workflow=F, result_path="$"),
    Step(name="SummarizeFleet", workflow=F, result_path="$"),
    # The check (lambdas/logic/check.py): reads a prepared target and names what drifted; with policy
    # publish or repair, it changes what setup would, through setup's code, under the target's lock.
    # An RDS lifecycle event (infra/schedule.py's rules): the check inputs of the databases setup prepared on
    # its target, from their schedules; the check then runs once per database (a child execution each).
    Step(
        name="FindPreparedTargets",
        workflow=C,
        result_path="$.prepared",
        access=(A.CHECK_SCHEDULE_READ, A.BLUE_GREEN_READ),
    ),
    Step(name="ValidateCheckInput", workflow=C, result_path="$"),
    # RDS instance or Aurora cluster as setup's DescribeTarget finds it (no plan); self-managed from the input.
    Step(name="DescribeCheckTarget", workflow=C, result_path="$.target", access=(A.TARGET_DESCRIBE,)),
    # RDS only: setup's parameter group plan (a non-empty plan is drift), and what the group and instance hold.
    Step(name="CheckParameters", workflow=C, result_path="$.parameters", access=(A.RDS_READ,)),
    # SQL as the master user, then a login as the CDC user with the password in its secret.
    Step(
        name="CheckDatabase",
        workflow=C,
        result_path="$.database",
        in_vpc=True,
        access=(A.MASTER_SECRET, A.USER_SECRET_LOOKUP, A.USER_SECRET_READ),
    ),
    Step(name="AcquireCheckLock", workflow=C, result_path="$.lock", access=(A.LOCK_TAKE,)),
    # ConfigureDatabase's and CreateSlot's code: unpublished tables (policy publish), a lost publication or
    # slot (repair). Not undone by teardown's steps beyond what they undo for setup (the same objects).
    Step(
        name="RepairTarget",
        workflow=C,
        result_path="$.repair",
        in_vpc=True,
        access=(A.MASTER_SECRET, A.USER_SECRET_READ, A.USER_SECRET_CREATE),
        changes=True,
    ),
    Step(name="ReleaseCheckLock", workflow=C, result_path=None, access=(A.LOCK_RELEASE,)),
    # The findings, counts per kind, changes: the execution's output, which PublishFindings publishes.
    Step(name="ReportCheck", workflow=C, result_path="$"),
    # Metrics per finding kind; one notification when the findings changed since the last run. Outside the
    # VPC: CloudWatch, DynamoDB and SNS only.
    Step(
        name="PublishFindings",
        workflow=C,
        result_path="$.published",
        access=(A.FINDINGS_METRICS, A.FINDINGS_RECORD, A.NOTIFY),
    ),
    Step(name="NotifyCheckFailure", workflow=C, result_path="$.failure", access=(A.NOTIFY,)),
)


def steps_of(workflow: Workflow) -> tuple[Step, ...]:
    return tuple(step for step in STEPS if step.workflow is workflow)


def step_named(name: str) -> Step:
    for step in STEPS:
        if step.name == name:
            return step
    raise KeyError(f"{name} is no step of lambdas/shared/steps.py STEPS")


def change_keys(workflow: Workflow) -> tuple[str, ...]:
    """The state keys whose results list changes, in run order: what a report collects."""
    return tuple(step.result_key for step in steps_of(workflow) if step.changes and step.result_key)
