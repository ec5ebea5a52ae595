"""Typed input, step inputs and outputs, and state of the teardown workflow (statemachine/cdc_teardown.asl.json).

As for setup (lambdas/shared/models.py): each step parses its own `<Step>Input`, required where every
path of the ASL to the step has the key; only ReportTeardown reads the whole, optional `TeardownState`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lambdas.shared import names
from lambdas.shared.models import FailureInput, SetupInput, StepState, Target, input_target_id
from lambdas.shared.ownership import AdoptKind
from lambdas.shared.steps import Workflow, change_keys

PARTS = (
    "drop_slot",
    "drop_publication",
    "drop_tables",
    "drop_user",
    "revert_parameter_group",
    "drop_alarms",
    "drop_security_group",
    "drop_check_schedule",
)


class TeardownInput(BaseModel):
    """What to remove; every part is opt-in. Names default to setup's, and follow its rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The target, as for setup: an RDS instance, an Aurora cluster, or a self-managed server.
    db_instance_identifier: str | None = None
    db_cluster_identifier: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    signal_table_schema: str = names.SIGNAL_TABLE_SCHEMA
    user_name: str = names.USER_NAME
    role_name: str = names.ROLE_NAME
    publication_name: str = names.PUBLICATION_NAME
    slot_name: str = names.SLOT_NAME
    master_secret_arn: str | None = None
    ca_certificate: str | None = None  # self-managed: its CA (PEM), as for setup
    drop_slot: bool = False
    drop_publication: bool = False
    drop_tables: bool = False  # the signal and heartbeat tables (and their schema, once empty)
    drop_user: bool = False  # user, role, and the user's secret
    revert_parameter_group: bool = False  # re-attach the default group setup replaced
    drop_alarms: bool = False  # the CloudWatch alarms setup made for the target (its marker checked)
    drop_security_group: bool = False  # the security group setup made for allow_cidrs (its tags checked)
    drop_check_schedule: bool = False  # the check schedule setup made (lambdas/logic/schedule.py)
    force: bool = False  # drop the slot even while a connector reads it
    # Objects of these kinds that rds-cdc-setup did not create (e.g. made by hand from Streamkap's
    # guide) are removed too instead of refused; the plan lists each one.
    adopt: list[AdoptKind] = Field(default_factory=list)
    dry_run: bool = False

    @model_validator(mode="after")
    def _check(self) -> TeardownInput:
        if not any(getattr(self, part) for part in PARTS):
            raise ValueError(f"nothing to remove: set at least one of {', '.join(PARTS)} to true")
        try:
            setup = self.setup_input()
        except ValidationError as error:  # the same name and target rules as setup, reported as ours
            raise ValueError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())) from None
        if self.revert_parameter_group and setup.self_managed:
            raise ValueError(
                "revert_parameter_group needs an RDS instance or Aurora cluster; on a self-managed server set "
                "wal_level back yourself (ALTER SYSTEM SET wal_level = 'replica', then restart it)"
            )
        if self.drop_security_group and setup.self_managed:
            raise ValueError(
                "drop_security_group needs an RDS instance or Aurora cluster: setup manages no security group "
                "for a self-managed server"
            )
        return self

    @property
    def target_id(self) -> str:
        """As SetupInput.target_id: the instance, the Aurora cluster or the self-managed server."""
        return input_target_id(vars(self)) or ""

    def setup_input(self) -> SetupInput:
        """The setup input naming the same objects: reuses its rules, target lookup and secret name."""
        return SetupInput(
            db_instance_identifier=self.db_instance_identifier,
            db_cluster_identifier=self.db_cluster_identifier,
            host=self.host,
            port=self.port,
            database=self.database,
            signal_table_schema=self.signal_table_schema,
            user_name=self.user_name,
            role_name=self.role_name,
            publication_name=self.publication_name,
            slot_name=self.slot_name,
            master_secret_arn=self.master_secret_arn,
            ca_certificate=self.ca_certificate,
            adopt=self.adopt,
        )


class TeardownPlan(BaseModel):
    plan: list[str]


class TeardownChanges(BaseModel):
    changes: list[str]


class TeardownInputState(StepState):
    """Any teardown state past ValidateTeardownInput (its ResultSelector makes it {input, execution_arn};
    every later step only adds its own key): `input` is always there, validated."""

    input: TeardownInput


class TeardownStepInput(TeardownInputState):
    """What every teardown step after ValidateTeardownInput is given, the execution's ARN included."""

    execution_arn: str


class AcquireTeardownLockInput(TeardownStepInput):
    """The ASL's Parameters: exactly the input and the execution's ARN."""


class DescribeTeardownTargetInput(TeardownStepInput):
    pass


class TeardownTargetStepInput(TeardownStepInput):
    """A step after DescribeTeardownTarget: every path to it has the target."""

    target: Target


class PlanTeardownInput(TeardownTargetStepInput):
    pass


class DropSlotInput(TeardownTargetStepInput):
    pass


class DropPublicationInput(TeardownTargetStepInput):
    pass


class DropSignalTablesInput(TeardownTargetStepInput):
    pass


class DropUserInput(TeardownTargetStepInput):
    pass


class RevertParameterGroupInput(TeardownTargetStepInput):
    pass


class DropAlarmsInput(TeardownTargetStepInput):
    pass


class DropSecurityGroupInput(TeardownTargetStepInput):
    pass


class DropCheckScheduleInput(TeardownTargetStepInput):
    pass


class ReleaseTeardownLockInput(StepState):
    """The ASL's Parameters: the whole state, whichever way out it took, and the execution's ARN."""

    state: TeardownInputState
    execution_arn: str


class NotifyTeardownFailureInput(FailureInput):
    pass


class TeardownState(TeardownInputState):
    """The whole state, as ReportTeardown gets it: every way there ran PlanTeardown; the parts
    chosen (none in a dry run) added their results."""

    target: Target
    plan: TeardownPlan
    slot: TeardownChanges | None = None
    publication: TeardownChanges | None = None
    tables: TeardownChanges | None = None
    user: TeardownChanges | None = None
    parameter_group: TeardownChanges | None = None
    alarms: TeardownChanges | None = None
    security_group: TeardownChanges | None = None
    check_schedule: TeardownChanges | None = None

    @property
    def changes(self) -> list[str]:
        """The changes of every step the registry marks as changing, in run order."""
        results = (getattr(self, key) for key in change_keys(Workflow.TEARDOWN))
        return [change for result in results if result is not None for change in result.changes]


class TeardownOutput(BaseModel):
    status: Literal["Removed", "DryRun"]
    plan: list[str] | None = None
    changes: list[str] = Field(default_factory=list)
    message: str
