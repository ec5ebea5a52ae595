"""The check schedule of a prepared target (EventBridge Scheduler), and what it records.

Setup's EnsureCheckSchedule creates or updates one schedule per target and database, in the
deployment's schedule group, that starts the check state machine with the settings setup used (ARNs and
names only: no secret). The schedule is also the record that setup prepared the target: the check started
by an RDS lifecycle event (a failover, say) finds the target's schedules by name and checks what setup made,
and a target without one is not rds-cdc-setup's (Skipped). Teardown's DropCheckSchedule deletes it.

A schedule in the group is the workflow's by construction: the group is the template's and only the
workflow's functions may write in it (infra/schedule.py), so no marker is needed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lambdas.dal.scheduler import Schedule, Schedules
from lambdas.shared.errors import InvalidInput
from lambdas.shared.models import SetupInput, Target
from lambdas.shared.names import check_schedule_name, check_schedule_prefix
from lambdas.shared.settings import Environment

# Scheduler's limit on a target's Input (characters); the input lists names and ARNs, far below it
# unless `tables` or a self-managed server's ca_certificate is long.
SCHEDULE_INPUT_LIMIT = 8192
OFF = "off"
# A schedule needs an expression even while disabled (check_schedule off).
DISABLED_EXPRESSION = "rate(1 hour)"
# What the check reads of setup's input (lambdas/shared/check_models.py CheckInput): the target, the names
# and rules setup applied, the bounds it set. Not: dry_run, reboot, the alarms' other thresholds, the
# Streamkap source and network settings, nor adopt: what setup adopted is marked its own by then, and a
# scheduled or event-started repair must never take over an object someone made since.
CHECK_KEYS = frozenset(
    {
        "db_instance_identifier",
        "db_cluster_identifier",
        "host",
        "port",
        "database",
        "schemas",
        "tables",
        "publication_mode",
        "signal_table_schema",
        "user_name",
        "role_name",
        "publication_name",
        "slot_name",
        "master_secret_arn",
        "ca_certificate",
        "replica_identity",
        "heartbeat",
        "alarm_slot_lag_gib",
        "max_slot_wal_keep_size_mb",
        "failover_slot",
        "poll_seconds",
        "max_wait_minutes",
    }
)


def schedule_name(setup: SetupInput, target: Target) -> str:
    if setup.self_managed:
        prefix = check_schedule_prefix(host=setup.host, port=setup.server_port)
    else:
        prefix = check_schedule_prefix(instance_id=target.instance_id, cluster_id=target.cluster_id)
    return check_schedule_name(prefix, target.database)


def check_input(setup: SetupInput, target: Target) -> dict[str, Any]:
    """The check's execution input: setup's validated input (heartbeat as Preflight chose it), the database
    it found, only the keys the check reads, defaults left out."""
    given = setup.model_copy(update={"database": target.database})
    return given.model_dump(mode="json", include=set(CHECK_KEYS), exclude_defaults=True) | {"database": target.database}


def check_input_text(setup: SetupInput, target: Target) -> str:
    return json.dumps(check_input(setup, target), separators=(",", ":"), sort_keys=True)


def too_long_for_a_schedule(setup: SetupInput, target: Target) -> str | None:
    """Why this target gets no schedule (its check input exceeds what a schedule holds), or None. Setup
    still succeeds: the check can be run by hand (CLI or console) with the same input."""
    size = len(check_input_text(setup, target))
    if size <= SCHEDULE_INPUT_LIMIT:
        return None
    return (
        f"no check schedule for this target: the check's input (the tables list) is {size} characters and a "
        f"schedule holds at most {SCHEDULE_INPUT_LIMIT}, so neither the schedule nor RDS lifecycle events will "
        "check it; run the check by hand (python -m cli check --input <this input>), or capture whole schemas "
        "(tables null)"
    )


def wanted_schedule(setup: SetupInput, target: Target, env: Environment) -> Schedule:
    if not env.check_state_machine_arn or not env.check_scheduler_role_arn:
        raise InvalidInput(
            "CHECK_STATE_MACHINE_ARN and CHECK_SCHEDULER_ROLE_ARN are not set: the deployment gives them "
            "(infra/schedule.py)"
        )
    off = env.check_schedule == OFF
    return Schedule(
        name=schedule_name(setup, target),
        expression=DISABLED_EXPRESSION if off else env.check_schedule,
        state="DISABLED" if off else "ENABLED",
        target_arn=env.check_state_machine_arn,
        role_arn=env.check_scheduler_role_arn,
        input=check_input_text(setup, target),
    )


def describe(schedule: Schedule, group: str) -> str:
    when = "disabled (check_schedule off)" if schedule.state == "DISABLED" else schedule.expression
    return f"check schedule {group}/{schedule.name}: {when}"


def schedule_plan_line(setup: SetupInput, target: Target, env: Environment) -> str:
    """Preflight's line for EnsureCheckSchedule (it runs once Verify passed)."""
    too_long = too_long_for_a_schedule(setup, target)
    if too_long is not None:
        return too_long
    name = schedule_name(setup, target)
    when = "disabled: check_schedule is off" if env.check_schedule == OFF else env.check_schedule
    return (
        f"create or update check schedule {env.check_schedule_group}/{name} ({when}), starting the check with "
        "this input's settings; RDS lifecycle events of the target start it at once"
    )


def ensure_check_schedule(schedules: Schedules, setup: SetupInput, target: Target, env: Environment) -> list[str]:
    """EnsureCheckSchedule: create the schedule, or update what differs; the changes made. None made for
    an input too long for a schedule (too_long_for_a_schedule: the step's result warns)."""
    if too_long_for_a_schedule(setup, target) is not None:
        # An earlier run's schedule would check with settings this run no longer uses
        return drop_check_schedule(schedules, setup, target)
    wanted = wanted_schedule(setup, target, env)
    existing = schedules.get(wanted.name)
    if existing == wanted:
        return []
    schedules.put(wanted, exists=existing is not None)
    if existing is None:
        return [f"created {describe(wanted, schedules.group)}"]
    differs = [
        label
        for label, key in (
            ("rate", "expression"),
            ("state", "state"),
            ("input", "input"),
            ("target", "target_arn"),
            ("role", "role_arn"),
        )
        if getattr(existing, key) != getattr(wanted, key)
    ]
    return [f"updated {describe(wanted, schedules.group)} ({', '.join(differs)} changed)"]


def drop_check_schedule(schedules: Schedules, setup: SetupInput, target: Target) -> list[str]:
    """DropCheckSchedule: delete the target's schedule, if there is one."""
    name = schedule_name(setup, target)
    return [f"deleted check schedule {schedules.group}/{name}"] if schedules.delete(name) else []


def drop_plan_line(schedules: Schedules, setup: SetupInput, target: Target) -> list[str]:
    name = schedule_name(setup, target)
    return [f"delete check schedule {schedules.group}/{name}"] if schedules.get(name) else []


# ---- the RDS lifecycle rules' check: which prepared targets an event names ------------------------------


def database_prefix(source: str) -> str | None:
    """The schedule name prefix of an instance or Aurora cluster ARN (...:db:<id>, ...:cluster:<id>)."""
    parts = source.split(":")
    if len(parts) >= 7 and parts[2] == "rds" and parts[5] in ("db", "cluster"):
        if parts[5] == "db":
            return check_schedule_prefix(instance_id=parts[6])
        return check_schedule_prefix(cluster_id=parts[6])
    return None


def event_prefixes(event: dict[str, Any], deployment_databases: Callable[[str], list[str]]) -> list[str]:
    """The schedule name prefixes of the instances or Aurora clusters an RDS event names (detail.SourceArn or
    resources). A blue/green deployment's event names the deployment (...:deployment:bgd-...):
    `deployment_databases` gives its source and target ARNs, and whichever carries a prepared name counts
    (after a switchover the green database has taken the name setup prepared, without its slot)."""
    arns = [event.get("detail", {}).get("SourceArn") or "", *(event.get("resources") or [])]
    prefixes: list[str] = []
    for source in dict.fromkeys(arns):
        parts = source.split(":")
        if len(parts) >= 7 and parts[2] == "rds" and parts[5] == "deployment":
            found = [database_prefix(member) for member in deployment_databases(parts[6])]
        else:
            found = [database_prefix(source)]
        prefixes += [prefix for prefix in found if prefix is not None and prefix not in prefixes]
    return prefixes


def prepared_inputs(
    schedules: Schedules,
    event: dict[str, Any],
    *,
    repair: bool,
    deployment_databases: Callable[[str], list[str]],
) -> list[dict[str, Any]]:
    """The check inputs of every database setup prepared on the event's target (its schedules' inputs),
    with `repair` as the deployment says; [] for a target setup did not prepare."""
    inputs = []
    for prefix in event_prefixes(event, deployment_databases):
        for name in schedules.names(prefix):
            schedule = schedules.get(name)
            if schedule is not None:
                inputs.append(json.loads(schedule.input) | {"repair": repair})
    return inputs
