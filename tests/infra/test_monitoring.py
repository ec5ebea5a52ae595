"""Monitoring in the synthesized template: alarms may notify the encrypted topic; the dashboard."""

from __future__ import annotations

import json

import pytest

from lambdas.logic.monitoring import ALARM_NAME_PREFIX
from tests.infra.synth import Synth, actions_of, rendered

pytestmark = pytest.mark.infra

CLOUDWATCH = {"Service": "cloudwatch.amazonaws.com"}


def test_cloudwatch_alarms_of_the_workflow_may_publish_to_the_topic(synth: Synth) -> None:
    [topic_id] = synth.workflow("AWS::SNS::Topic")
    [policy] = synth.workflow("AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    [statement] = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Principal") == CLOUDWATCH]
    assert (statement["Effect"], actions_of(statement), statement["Resource"]) == (
        "Allow",
        ["sns:Publish"],
        {"Ref": topic_id},
    )
    assert rendered(statement["Condition"]["ArnLike"]["aws:SourceArn"]) == (
        f"arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:{ALARM_NAME_PREFIX}*"
    )
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_cloudwatch_may_use_the_topics_key_and_the_topic_refuses_plain_http(synth: Synth) -> None:
    [key] = synth.workflow("AWS::KMS::Key").values()
    [statement] = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Principal") == CLOUDWATCH]
    assert sorted(actions_of(statement)) == ["kms:Decrypt", "kms:GenerateDataKey"]
    [policy] = synth.workflow("AWS::SNS::TopicPolicy").values()
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )


def test_the_dashboard_shows_executions_every_step_and_slot_lag(synth: Synth) -> None:
    [dashboard] = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = rendered(dashboard["Properties"]["DashboardBody"])
    widgets = json.loads(body.replace('"${', '"').replace('}"', '"'))["widgets"]  # refs as plain strings
    metrics = [m for w in widgets for m in w["properties"].get("metrics", [])]
    machine_id, _ = synth.state_machine()
    for name in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"):
        assert any(name in m and f"{machine_id}" in json.dumps(m) for m in metrics), name
    for logical_id in synth.function_ids().values():
        assert sum(logical_id in json.dumps(m) for m in metrics) == 2, logical_id  # errors and duration
    assert "OldestReplicationSlotLag" in body and "SEARCH(" in body
