"""The check schedules and the RDS lifecycle rules in the synthesized template (infra/schedule.py): the
schedule group, Scheduler's role and its one action, the rules' patterns against sample events and their
target, and every function's Scheduler actions scoped to the group's schedules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.events.models import EventPattern

from infra.config import CdcSetupConfig, ConfigError
from tests.infra.synth import Synth, actions_of, rendered, resources_of, role_statements

pytestmark = pytest.mark.infra

PREFIX = "arn:${AWS::Partition}:"
GROUP_SCHEDULES = f"{PREFIX}scheduler:${{AWS::Region}}:${{AWS::AccountId}}:schedule/rds-cdc-check/*"
CHECK_BY_NAME = f"{PREFIX}states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:rds-cdc-check"
LIFECYCLE_RULES = ("InstanceLifecycle", "ClusterLifecycle", "BlueGreenSwitchover")


def event(detail_type: str, event_id: str, source_arn: str) -> dict[str, Any]:
    return {
        "version": "0",
        "source": "aws.rds",
        "detail-type": detail_type,
        "account": "123456789012",
        "region": "us-east-1",
        "resources": [source_arn],
        "detail": {"EventID": event_id, "SourceArn": source_arn},
    }


DB = "arn:aws:rds:us-east-1:123456789012:db:orders-prod"
CLUSTER = "arn:aws:rds:us-east-1:123456789012:cluster:orders-aurora"
BGD = "arn:aws:rds:us-east-1:123456789012:deployment:bgd-0123456789abcdef"


def lifecycle_rules(synth: Synth) -> dict[str, dict[str, Any]]:
    found = synth.resources("AWS::Events::Rule")
    return {name: p["Properties"] for name in LIFECYCLE_RULES for k, p in found.items() if name in k}


def matching(synth: Synth, sample: dict[str, Any]) -> set[str]:
    return {
        name
        for name, rule in lifecycle_rules(synth).items()
        if EventPattern.load(json.dumps(rule["EventPattern"])).matches_event(sample)
    }


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (event("RDS DB Instance Event", "RDS-EVENT-0049", DB), {"InstanceLifecycle"}),  # Multi-AZ failover done
        (event("RDS DB Instance Event", "RDS-EVENT-0015", DB), {"InstanceLifecycle"}),
        (event("RDS DB Instance Event", "RDS-EVENT-0043", DB), {"InstanceLifecycle"}),  # restored from snapshot
        (event("RDS DB Instance Event", "RDS-EVENT-0019", DB), {"InstanceLifecycle"}),  # point-in-time restore
        (event("RDS DB Instance Event", "RDS-EVENT-0268", DB), {"InstanceLifecycle"}),  # engine upgrade finished
        (event("RDS DB Cluster Event", "RDS-EVENT-0071", CLUSTER), {"ClusterLifecycle"}),  # cluster failover done
        (event("RDS Blue Green Deployment Event", "RDS-EVENT-0248", BGD), {"BlueGreenSwitchover"}),
        (event("RDS DB Instance Event", "RDS-EVENT-0013", DB), set()),  # failover started: check once it ends
        (event("RDS DB Instance Event", "RDS-EVENT-0006", DB), set()),  # a plain restart
        (event("RDS DB Cluster Event", "RDS-EVENT-0049", CLUSTER), set()),  # an instance's id on a cluster
    ],
    ids=lambda v: v["detail"]["EventID"] + " " + v["detail-type"] if isinstance(v, dict) else None,
)
def test_lifecycle_rules_match_the_events_after_which_a_slot_may_be_gone(
    default: Synth, sample: dict[str, Any], expected: set[str]
) -> None:
    assert matching(default, sample) == expected


def test_every_lifecycle_rule_starts_the_check_with_the_event_and_retries(default: Synth) -> None:
    [(check_id, _)] = [
        (k, v)
        for k, v in default.resources("AWS::StepFunctions::StateMachine").items()
        if v["Properties"].get("StateMachineName") == "rds-cdc-check"
    ]
    assert lifecycle_rules(default).keys() == set(LIFECYCLE_RULES)
    for rule in lifecycle_rules(default).values():
        [target] = rule["Targets"]
        assert target["Arn"] == {"Ref": check_id}
        assert "Input" not in target and "InputPath" not in target  # FindPreparedTargets reads the event
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
        statements = role_statements(default, target["RoleArn"]["Fn::GetAtt"][0])
        assert [(actions_of(s), s["Resource"]) for s in statements] == [(["states:StartExecution"], {"Ref": check_id})]


def test_the_schedule_group_and_schedulers_role_may_start_only_the_check(default: Synth) -> None:
    [group] = default.resources("AWS::Scheduler::ScheduleGroup").values()
    assert group["Properties"]["Name"] == "rds-cdc-check"
    [(role_id, role)] = [(k, v) for k, v in default.resources("AWS::IAM::Role").items() if "SchedulerRole" in k]
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert rendered(trust["Condition"]["ArnLike"]["aws:SourceArn"]) == GROUP_SCHEDULES
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    statements = role_statements(default, role_id)
    assert [(actions_of(s), resources_of(s)) for s in statements] == [(["states:StartExecution"], [CHECK_BY_NAME])]


def test_every_scheduler_action_of_the_functions_is_on_the_groups_schedules_only(default: Synth) -> None:
    granted: dict[str, set[str]] = {}
    for policy in default.resources("AWS::IAM::ManagedPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for action in actions_of(statement):
                if action.startswith("scheduler:"):
                    granted.setdefault(action, set()).update(resources_of(statement))
    assert granted == {
        "scheduler:GetSchedule": {GROUP_SCHEDULES},  # setup's EnsureCheckSchedule, the check's lookup
        "scheduler:CreateSchedule": {GROUP_SCHEDULES},
        "scheduler:UpdateSchedule": {GROUP_SCHEDULES},
        "scheduler:DeleteSchedule": {GROUP_SCHEDULES},  # teardown's DropCheckSchedule
        "scheduler:ListSchedules": {"*"},  # AWS scopes it to no resource
    }
    # Only Scheduler's role may be passed, and only to Scheduler
    passes = [
        s
        for policy in default.resources("AWS::IAM::ManagedPolicy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "iam:PassRole" in actions_of(s)
    ]
    [scheduler_role] = [k for k in default.resources("AWS::IAM::Role") if "SchedulerRole" in k]
    assert [(resources_of(s), s["Condition"]) for s in passes] == [
        ([f"${{{scheduler_role}.Arn}}"], {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}})
    ]


def test_ensure_check_schedule_gets_the_group_the_check_the_role_and_the_rate(default: Synth) -> None:
    variables = default.function("EnsureCheckSchedule")["Environment"]["Variables"]
    assert variables["CHECK_SCHEDULE_GROUP"] == "rds-cdc-check"
    assert variables["CHECK_SCHEDULE"] == "rate(1 hour)"
    assert rendered(variables["CHECK_STATE_MACHINE_ARN"]) == CHECK_BY_NAME
    assert "SchedulerRole" in variables["CHECK_SCHEDULER_ROLE_ARN"]["Fn::GetAtt"][0]


@pytest.mark.parametrize("value", ["rate(1 hour)", "rate(15 minutes)", "rate(2 days)", "cron(0 3 * * ? *)", "off"])
def test_check_schedule_takes_schedulers_rates_crons_and_off(value: str) -> None:
    assert CdcSetupConfig(check_schedule=value).check_schedule == value


@pytest.mark.parametrize("value", ["rate(1 hours)", "rate(0 minutes)", "rate(5 minute)", "hourly", "cron(0 3 * *)"])
def test_a_malformed_check_schedule_is_one_line_naming_the_key(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^context 'check_schedule' must be rate\(") as refused:
        CdcSetupConfig(check_schedule=value)
    assert "\n" not in str(refused.value)
