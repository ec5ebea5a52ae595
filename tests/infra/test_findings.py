"""The check's findings in the synthesized template: PublishFindings' role puts metrics in the check's
namespace only and reads and writes only the lock table's check# items; the dashboard graphs them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.shared.names import CHECK_METRICS_DIMENSION, CHECK_METRICS_NAMESPACE, CHECK_RECORD_KEY_PREFIX
from tests.infra.synth import Synth, actions_of, rendered, resources_of, role_statements

pytestmark = pytest.mark.infra

HANDLER = "lambdas.handlers.publish_findings.handler"
RUNTIME = ("logs:", "xray:", "ec2:")  # the Lambda runtime's own (log stream, traces, network interfaces)


def publish_findings(synth: Synth) -> dict[str, Any]:
    [function] = [
        fn["Properties"]
        for fn in synth.resources("AWS::Lambda::Function").values()
        if fn["Properties"].get("Handler") == HANDLER
    ]
    return function


def granted(synth: Synth, role_id: str) -> dict[str, list[tuple[str, Any]]]:
    """action -> [(resource, condition)] of the role's statements, the runtime's own left out."""
    found: dict[str, list[tuple[str, Any]]] = {}
    for statement in role_statements(synth, role_id):
        for action in actions_of(statement):
            if not action.startswith(RUNTIME):
                found.setdefault(action, []).extend((r, statement.get("Condition")) for r in resources_of(statement))
    return found


def test_publish_findings_puts_metrics_in_the_checks_namespace_only_and_touches_only_check_items(synth: Synth):
    # Given PublishFindings' function and the stack's lock table
    function = publish_findings(synth)
    [table_id] = synth.resources("AWS::DynamoDB::Table")
    [topic_id] = synth.workflow("AWS::SNS::Topic")
    # When its role's statements are read
    actions = granted(synth, function["Role"]["Fn::GetAtt"][0])
    # Then PutMetricData (no resource type) only under the namespace condition
    namespace = {"StringEquals": {"cloudwatch:namespace": CHECK_METRICS_NAMESPACE}}
    assert actions.pop("cloudwatch:PutMetricData") == [("*", namespace)]
    # And the lock table's items only where the partition key starts with check#: never a lease
    leading = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{CHECK_RECORD_KEY_PREFIX}*"]}}
    table = f"${{{table_id}.Arn}}"
    assert actions.pop("dynamodb:GetItem") == [(table, leading)]
    assert actions.pop("dynamodb:PutItem") == [(table, leading)]
    # And the notification topic (encrypted with the workflow's key), nothing else
    assert actions.pop("sns:Publish") == [(f"${{{topic_id}}}", None)]
    assert set(actions) == {"kms:Decrypt", "kms:GenerateDataKey"}
    # And it knows the table and the topic, outside the VPC (no SQL)
    variables = function["Environment"]["Variables"]
    assert variables["LOCK_TABLE_NAME"] == {"Ref": table_id}
    assert variables["NOTIFICATION_TOPIC_ARN"] == {"Ref": topic_id}
    assert "VpcConfig" not in function


def test_no_other_step_may_put_metric_data(synth: Synth):
    holders = [
        fn["Properties"]["Handler"]
        for fn in synth.resources("AWS::Lambda::Function").values()
        if "Role" in fn["Properties"]
        and "cloudwatch:PutMetricData" in granted(synth, fn["Properties"]["Role"]["Fn::GetAtt"][0])
    ]
    assert holders == [HANDLER]


def test_the_check_state_machine_ends_by_publishing_what_the_report_found(synth: Synth):
    [machine] = [
        m["Properties"]
        for m in synth.resources("AWS::StepFunctions::StateMachine").values()
        if m["Properties"].get("StateMachineName") == "rds-cdc-check"
    ]
    definition = rendered(machine["DefinitionString"])
    states = json.loads(definition)["States"]
    assert states["ReportCheck"]["Next"] == "PublishFindings" and states["PublishFindings"]["End"] is True


def test_the_dashboard_graphs_every_finding_metric_of_every_target(synth: Synth):
    [dashboard] = synth.resources("AWS::CloudWatch::Dashboard").values()
    widgets = json.loads(rendered(dashboard["Properties"]["DashboardBody"]))["widgets"]
    search = f"SEARCH('{{{CHECK_METRICS_NAMESPACE},{CHECK_METRICS_DIMENSION}}}', 'Maximum', 3600)"
    [widget] = [w for w in widgets if any(search in json.dumps(m) for m in w["properties"].get("metrics", []))]
    assert widget["type"] == "metric" and widget["width"] == 24
    assert widget["properties"]["view"] == "timeSeries"
    assert widget["properties"]["metrics"] == [[{"expression": search, "period": 3600}]]  # hourly, as the checks run
    assert widget["properties"]["yAxis"]["left"]["min"] == 0
    assert CHECK_METRICS_NAMESPACE in widget["properties"]["title"]
