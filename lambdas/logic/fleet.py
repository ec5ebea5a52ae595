"""Fleet mode: expand the selector into one setup input per instance; summarise the results.

Each instance runs as its own execution of the setup state machine (own history, own
per-target lock (lambdas/logic/lock.py), own idempotent steps); this module only decides who and reports."""

from __future__ import annotations

import json
from collections import Counter
from typing import Literal

from lambdas.dal.rds import Rds
from lambdas.shared.errors import InvalidInput, TargetNotFound
from lambdas.shared.fleet_models import (
    FleetInput,
    FleetMember,
    FleetOutput,
    FleetPlan,
    MemberResult,
    SetupRun,
    SummarizeMemberInput,
    tag_pair,
)
from lambdas.shared.models import SetupInput, StepError


def resolve_fleet(rds: Rds, fleet: FleetInput) -> FleetPlan:
    if fleet.db_instance_identifiers is not None:
        known = {name.lower(): name for name, _ in rds.instances_with_tags()}
        missing = [i for i in fleet.db_instance_identifiers if i.lower() not in known]
        if missing:
            raise TargetNotFound(
                f"No RDS instance {', '.join(missing)} in this account and region; no setup was started. "
                "Check db_instance_identifiers"
            )
        selected = [known[i.lower()] for i in fleet.db_instance_identifiers]
    elif fleet.tag is not None:
        key, value = tag_pair(fleet.tag)
        selected = sorted(
            name for name, tags in rds.instances_with_tags() if key in tags and (value is None or tags[key] == value)
        )
        if not selected:
            raise InvalidInput(f"No RDS instance carries the tag {fleet.tag!r}; no setup was started")
        if len(selected) > fleet.max_instances:
            raise InvalidInput(
                f"The tag {fleet.tag!r} selects {len(selected)} instances, more than max_instances "
                f"{fleet.max_instances}; narrow the tag or raise max_instances. No setup was started"
            )
    else:  # FleetInput refuses this itself
        raise InvalidInput("Give exactly one of db_instance_identifiers or tag; no setup was started")
    # A typo in `setup` fails here, before any setup starts; only the identifier differs between members.
    SetupInput.model_validate({**fleet.setup, "db_instance_identifier": selected[0]})
    return FleetPlan(
        setup=fleet.setup,
        members=[FleetMember(db_instance_identifier=i) for i in selected],
        max_concurrency=fleet.max_concurrency,
    )


def member_result(item: SummarizeMemberInput) -> MemberResult:
    """One Map item's outcome, small whatever the setup returned."""
    match item:
        case SummarizeMemberInput(result=SetupRun(output=output, execution_arn=arn)):
            return MemberResult(
                db_instance_identifier=item.instance, status=output.status, message=output.message, execution_arn=arn
            )
        case SummarizeMemberInput(error=StepError() as error):
            return failed_member(item.instance, error)
    raise ValueError(f"Fleet member {item.instance} has neither StartSetup's result nor its error")


def failed_member(instance: str, error: StepError) -> MemberResult:
    """A setup that failed: its own named error and message where the Cause is the failed execution."""
    name, message, arn = error.Error, error.Cause, None
    try:
        described = json.loads(message or "")
    except ValueError:
        described = None
    if isinstance(described, dict):  # the child execution's own named error and message
        lowered = {k.lower(): v for k, v in described.items()}
        name = lowered.get("error") or name
        message = lowered.get("cause")
        arn = lowered.get("executionarn")
    return MemberResult(
        db_instance_identifier=instance, status="Failed", error=name, message=message, execution_arn=arn
    )


def summarize(results: list[MemberResult]) -> FleetOutput:
    """`results`: the Map's, one SummarizeMember output per instance."""
    failed = sum(r.status == "Failed" for r in results)
    status: Literal["Succeeded", "PartiallyFailed", "Failed"] = (
        "Succeeded" if not failed else ("Failed" if failed == len(results) else "PartiallyFailed")
    )
    return FleetOutput(status=status, counts=dict(Counter(r.status for r in results)), instances=results)
