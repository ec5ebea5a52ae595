"""Typed input, findings, step inputs and outputs, and state of the check workflow
(statemachine/cdc_check.asl.json): it reads a prepared target and names what drifted since setup.

As for setup (lambdas/shared/models.py): each step parses its own `<Step>Input`, required where every
path of the ASL to the step has the key; only ReportCheck reads the whole, optional `CheckState`."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from lambdas.shared.models import FailureInput, HeartbeatMode, SetupInput, StepState, Target
from lambdas.shared.steps import Workflow, change_keys


class FindingKind(StrEnum):
    """What a check can find. The value is the kind's stable name; `metric_name` the CloudWatch metric
    counting it (one per kind, value = the findings of that kind in one run)."""

    UNPUBLISHED_TABLE = "unpublished_table"  # a captured table (or partition, PG10-12) not in the publication
    NOT_SELECTABLE = "not_selectable"  # a captured table the CDC role cannot SELECT
    REPLICA_IDENTITY = "replica_identity"  # a captured table whose UPDATE/DELETE would fail once published
    PUBLICATION_MISSING = "publication_missing"  # no publication of ours by that name
    SLOT_MISSING = "slot_missing"  # no slot of ours by that name
    SLOT_INACTIVE = "slot_inactive"  # nothing streams from the slot
    SLOT_WAL_STATUS = "slot_wal_status"  # wal_status lost (no way back) or unreserved (about to be)
    SLOT_RETAINED_BYTES = "slot_retained_bytes"  # WAL held back beyond slot_retained_gib
    LOGICAL_REPLICATION_OFF = "logical_replication_off"  # wal_level not logical / rds.logical_replication not 1
    WAL_SENDER_TIMEOUT = "wal_sender_timeout"  # the group's wal_sender_timeout is no longer 0
    PARAMETER_PENDING_REBOOT = "parameter_pending_reboot"  # the instance's parameters wait for a reboot
    PARAMETER_DRIFT = "parameter_drift"  # setup's parameter group plan is not empty any more
    LOGIN_FAILED = "login_failed"  # the CDC user cannot log in with the password in its secret

    @property
    def metric_name(self) -> str:
        """unpublished_table -> UnpublishedTable."""
        return "".join(part.capitalize() for part in self.value.split("_"))


class Finding(BaseModel):
    kind: FindingKind
    subject: str  # what it is about: schema.table, the slot, the publication, a parameter group
    detail: str  # what was found, and what to do
    severity: Literal["warning", "critical"] = "warning"  # critical: the connector stops or loses data
    # The connector cannot resume where it stopped: its slot or publication is gone, or the slot's WAL lost.
    snapshot: bool = False


class CheckInput(SetupInput):
    """The setup input that prepared the target (its names, schemas, tables and heartbeat), plus what
    the check may do. Unknown keys are errors, as for setup."""

    # report: name unpublished tables; publish: add them, under setup's replica identity rules and lock timeouts.
    policy: Literal["report", "publish"] = "report"
    # Recreate a lost publication or slot, as setup would (the connector then needs a new snapshot).
    repair: bool = False
    # slot_retained_bytes above this much WAL (GiB); null: the input's alarm_slot_lag_gib, as setup's alarm.
    slot_retained_gib: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _not_a_setup_run(self) -> CheckInput:
        if self.dry_run:
            raise ValueError("dry_run is setup's: a check with policy report (the default) changes nothing")
        if self.adopt or self.rotate_password:
            # A check may run unattended (a schedule, an RDS event): it never takes an object over or sets a
            # password; what setup adopted is marked its own already.
            raise ValueError(
                "adopt and rotate_password are setup's: a check takes nothing over and changes no password; "
                "run setup with them"
            )
        return self

    @property
    def retained_threshold_bytes(self) -> int:
        return int((self.slot_retained_gib or self.alarm_slot_lag_gib) * 1024**3)


class ParameterCheck(BaseModel):
    findings: list[Finding]


class DatabaseCheck(BaseModel):
    findings: list[Finding]
    server_version_num: int
    publication_ours: bool  # a publication of that name exists and is the workflow's
    slot_ours: bool  # likewise the slot
    unpublished_tables: int  # what policy publish would add
    heartbeat: HeartbeatMode = "table"  # the input's, "auto" resolved as Preflight does; RepairTarget uses it


class RepairResult(BaseModel):
    changes: list[str]
    repaired: list[str]  # what was recreated: "publication", "slot"


class FindPreparedTargetsInput(StepState):
    """An EventBridge event (an RDS lifecycle rule's) as the execution input: IsLifecycleEvent sends only
    an input with `source` and `detail` here."""

    source: str
    detail: dict[str, Any]
    resources: list[str] = Field(default_factory=list)


class PreparedTargets(BaseModel):
    """What FindPreparedTargets found: the check input of each database setup prepared on the event's
    target (from its schedule); none: the execution ends Skipped."""

    found: int
    inputs: list[dict[str, Any]]
    skipped: dict[str, Any] | None = None  # the execution's output when none was found


class CheckInputState(StepState):
    """Any check state past ValidateCheckInput (its ResultSelector makes it {input, execution_arn})."""

    input: CheckInput


class CheckStepInput(CheckInputState):
    execution_arn: str


class DescribeCheckTargetInput(CheckStepInput):
    pass


class CheckTargetStepInput(CheckStepInput):
    target: Target


class CheckParametersInput(CheckTargetStepInput):
    pass


class CheckDatabaseInput(CheckTargetStepInput):
    pass


class AcquireCheckLockInput(CheckStepInput):
    """The ASL's Parameters: exactly the input and the execution's ARN."""


class RepairTargetInput(CheckTargetStepInput):
    database: DatabaseCheck


class ReleaseCheckLockInput(StepState):
    state: CheckInputState
    execution_arn: str


class NotifyCheckFailureInput(FailureInput):
    # PublishFindings' failure: the state is then ReportCheck's CheckOutput, whose `target` names the
    # target (a string; elsewhere `target` is DescribeCheckTarget's Target and `input` names it).
    target: Any = None


class CheckState(CheckInputState):
    """The whole state, as ReportCheck gets it: every way there ran CheckDatabase."""

    target: Target
    parameters: ParameterCheck | None = None  # RDS targets only
    database: DatabaseCheck
    repair: RepairResult | None = None  # policy publish or repair only

    @property
    def changes(self) -> list[str]:
        results = (getattr(self, key) for key in change_keys(Workflow.CHECK))
        return [change for result in results if result is not None for change in result.changes]


class CheckOutput(BaseModel):
    """What PublishFindings (metrics, one notification on change) consumes: `counts` has every kind,
    zeros included, so each metric gets a value every run."""

    status: Literal["Clean", "Findings"]
    target: str
    findings: list[Finding]
    counts: dict[str, int]
    changes: list[str] = Field(default_factory=list)
    repaired: list[str] = Field(default_factory=list)
    snapshot_needed: bool = False
    message: str


class PublishFindingsInput(StepState):
    """The ASL's Parameters: ReportCheck's output and the execution's ARN."""

    report: CheckOutput
    execution_arn: str


class PublishResult(BaseModel):
    """What PublishFindings did: the metrics put, and whether the findings changed since the last
    run, in which case one notification went out (`notified`) naming what appeared and cleared."""

    namespace: str
    metrics: int  # one per finding kind, zeros included
    changed: bool
    notified: bool = False
    appeared: list[str] = Field(default_factory=list)  # "kind subject" of each finding new since the last run
    cleared: list[str] = Field(default_factory=list)  # and of each the last run had and this one has not
