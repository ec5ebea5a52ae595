"""Fleet mode: the input that selects many instances, the per-instance plan, the steps' inputs
(statemachine/cdc_fleet.asl.json) and the summary."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lambdas.shared.models import INSTANCE_ID, StepError, StepState

TARGET_KEYS = ("db_instance_identifier", "db_cluster_identifier")
MAX_FLEET_INSTANCES = 200
MEMBER_MESSAGE_CHARS = 500  # of a member's message in the fleet's results; its own execution has it whole


class FleetInput(BaseModel):
    """Exactly one selector: a list of instances, or a tag ("key=value", or "key" for any value).
    `setup` is every instance's execution input except the instance itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    db_instance_identifiers: list[str] | None = None
    tag: str | None = None
    setup: dict[str, Any] = Field(default_factory=dict)
    # A tag matching more than this is a mistake, not a fleet. The ceiling keeps the per-instance
    # results within Step Functions' 256 KiB state (tests/unit/test_fleet.py measures the worst case).
    max_instances: int = Field(50, ge=1, le=MAX_FLEET_INSTANCES)
    # Setups running at once. Each reboots its instance: a few at a time keeps a bad setting from
    # restarting the whole fleet before anyone looks.
    max_concurrency: int = Field(4, ge=1, le=20)

    @field_validator("db_instance_identifiers")
    @classmethod
    def _ids(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("db_instance_identifiers must be null (select by tag) or a non-empty list")
        bad = [v for v in value if not INSTANCE_ID.match(v)]
        if bad:
            raise ValueError(f"{bad} are not RDS identifiers (1-63 letters, digits or hyphens, starting with a letter)")
        if len({v.lower() for v in value}) != len(value):
            raise ValueError("db_instance_identifiers contains duplicates")
        return value

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str | None) -> str | None:
        if value is not None and not value.partition("=")[0].strip():
            raise ValueError("tag must be 'key=value' or 'key'")
        return value

    @field_validator("setup")
    @classmethod
    def _setup(cls, value: dict[str, Any]) -> dict[str, Any]:
        named = [key for key in TARGET_KEYS if value.get(key) is not None]
        if named:
            raise ValueError(f"setup must not name the target ({', '.join(named)}): the fleet selector does")
        return value

    @model_validator(mode="after")
    def _one_selector(self) -> FleetInput:
        if (self.db_instance_identifiers is None) == (self.tag is None):
            raise ValueError("give exactly one of db_instance_identifiers or tag")
        if self.db_instance_identifiers and len(self.db_instance_identifiers) > self.max_instances:
            raise ValueError(
                f"{len(self.db_instance_identifiers)} instances listed; max_instances is {self.max_instances}"
            )
        return self


def tag_pair(tag: str) -> tuple[str, str | None]:
    """A fleet's tag selector: "key=value" -> (key, value); "key" -> (key, None), any value."""
    key, equals, value = tag.partition("=")
    return key.strip(), (value.strip() if equals else None)


class FleetMember(BaseModel):
    """One Map item. The setup execution's input is `setup` merged with it (States.JsonMerge in the
    ASL): `setup` travels once in the state, not once per instance."""

    db_instance_identifier: str


class FleetPlan(BaseModel):
    setup: dict[str, Any]
    members: list[FleetMember]
    max_concurrency: int  # the Map's MaxConcurrencyPath


class SetupRunOutput(StepState):
    """What SummarizeMember reads of a setup's output: both ends of the setup ASL that succeed,
    Report (SetupOutput) and Skipped (SkippedOutput), give a status."""

    status: str
    message: str | None = None


class SetupRun(BaseModel):
    """StartSetup's result (its ResultSelector): the setup execution's output and ARN."""

    output: SetupRunOutput
    execution_arn: str


class SummarizeMemberInput(StepState):
    """One Map item after StartSetup: the ItemSelector's `instance` (and `input`, not read here), with
    StartSetup's `result` when the setup succeeded or the Catch's `error` when it failed (Cause: the
    failed execution, as DescribeExecution returns it, for states:startExecution.sync:2)."""

    instance: str
    result: SetupRun | None = None
    error: StepError | None = None


class MemberResult(BaseModel):
    db_instance_identifier: str
    status: str  # the setup's status (Ready, DryRun, RebootPending, Skipped) or "Failed"
    error: str | None = None  # the setup's named error
    message: str | None = None  # at most MEMBER_MESSAGE_CHARS
    execution_arn: str | None = None

    @field_validator("message")
    @classmethod
    def _short(cls, value: str | None) -> str | None:
        if value is None or len(value) <= MEMBER_MESSAGE_CHARS:
            return value
        return value[: MEMBER_MESSAGE_CHARS - 1] + "…"


class FleetOutput(BaseModel):
    status: Literal["Succeeded", "PartiallyFailed", "Failed"]
    counts: dict[str, int]  # status -> instances
    instances: list[MemberResult]


class SummarizeFleetInput(StepState):
    """The ASL's Parameters: the Map's results, one SummarizeMember output per instance."""

    results: list[MemberResult]
