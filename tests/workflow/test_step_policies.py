"""The machinery that runs each workflow step with its own role's policies (local/step_policies.py):
what it enforces, and what it cannot (conditions). No PostgreSQL: moto only, about a second."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.dal.clients import client
from lambdas.shared.errors import InsufficientPrivilege
from lambdas.shared.steps import STEPS
from local.step_policies import Enforcement, LocalResources, StepPolicies, _actions, as_step

TOPIC = "arn:aws:sns:us-east-1:123456789012:rds-cdc-setup-notifications"
LOCAL = LocalResources(topic_arn=TOPIC, lock_table="rds-cdc-setup-locks")


def function_arn(step: str) -> str:
    return f"arn:aws:lambda:us-east-1:123456789012:function:rds-cdc-setup-{step}"


@pytest.fixture
def template(workflow_template: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(workflow_template)


def enforce(policies: StepPolicies, *steps: str) -> Iterator[Enforcement]:
    with mock_aws(), Enforcement(policies, LOCAL) as enforcement:
        for step in steps:
            enforcement.add_step(step, function_arn(step))
        yield enforcement


def add_instance(identifier: str = "orders-prod") -> None:
    boto3.client("rds").create_db_instance(
        DBInstanceIdentifier=identifier,
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        MasterUsername="master",
        MasterUserPassword="secret-password",
        AllocatedStorage=20,
    )


def test_every_steps_policies_resolve_to_the_local_stack(template):
    policies = StepPolicies(template)
    for step in STEPS:
        text = json.dumps(policies.documents(step.name, LOCAL))
        assert "Fn::" not in text and '"Ref"' not in text, step.name
        for _, document in policies.documents(step.name, LOCAL):
            for statement in document["Statement"]:
                resources = (
                    statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                )
                # "*" only where AWS scopes nothing: EC2's Describe calls, Scheduler's ListSchedules, and
                # PutMetricData, which only its namespace condition narrows
                namespaced = "cloudwatch:namespace" in json.dumps(statement.get("Condition", {}))
                unscoped = all(
                    a.startswith("ec2:Describe")
                    or a == "scheduler:ListSchedules"
                    or (a == "cloudwatch:PutMetricData" and namespaced)
                    for a in _actions(statement)
                )
                assert all(r.startswith(("arn:aws:", TOPIC)) or (r == "*" and unscoped) for r in resources), (
                    step.name,
                    resources,
                )
        # A step with access has its grants; one without has none (the runtime's log and X-Ray aside).
        assert bool(policies.granted(step.name)) == bool(step.access), step.name


def test_a_step_may_call_what_its_role_grants_and_nothing_else(template):
    policies = StepPolicies(template)
    for _ in enforce(policies, "RebootInstance"):
        add_instance()  # the test's own calls: not checked
        with as_step(function_arn("RebootInstance")):
            client("rds").describe_db_instances(DBInstanceIdentifier="orders-prod")
            client("rds").reboot_db_instance(DBInstanceIdentifier="orders-prod")
            with pytest.raises(InsufficientPrivilege, match="rds:ModifyDBParameterGroup"):
                client("rds").modify_db_parameter_group(DBParameterGroupName="default.postgres15", Parameters=[])
    assert policies.used["RebootInstance"] == {"rds:DescribeDBInstances", "rds:RebootDBInstance"}
    assert policies.denied == [
        "RebootInstance: rds:ModifyDBParameterGroup on "
        "arn:aws:rds:us-east-1:123456789012:pg:default.postgres15 is not granted to its role"
    ]


def test_resources_are_checked_with_their_wildcards(template):
    policies = StepPolicies(template)
    for _ in enforce(policies, "CreateAlarms"):
        alarm = {
            "MetricName": "CPUUtilization",
            "Namespace": "AWS/RDS",
            "Statistic": "Average",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 90.0,
            "ComparisonOperator": "GreaterThanThreshold",
        }
        with as_step(function_arn("CreateAlarms")):
            client("cloudwatch").put_metric_alarm(AlarmName="rds-cdc-setup-orders-prod-cpu", **alarm)
            with pytest.raises(Exception, match="AccessDenied|403"):
                client("cloudwatch").put_metric_alarm(AlarmName="team-orders-prod-cpu", **alarm)
    assert policies.denied == [
        "CreateAlarms: cloudwatch:PutMetricAlarm on "
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:team-orders-prod-cpu is not granted to its role"
    ]


def test_a_missing_permission_fails_and_tagging_on_create_needs_the_tagging_action(template):
    # Given the parameter-group policy without rds:AddTagsToResource
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"]
                if isinstance(actions, list) and {"rds:AddTagsToResource", "rds:CreateDBParameterGroup"} <= set(
                    actions
                ):
                    actions.remove("rds:AddTagsToResource")
    policies = StepPolicies(template)
    for _ in enforce(policies, "EnsureParameterGroup"):
        with as_step(function_arn("EnsureParameterGroup")):
            create = {"DBParameterGroupFamily": "postgres15", "Description": "cdc"}
            client("rds").create_db_parameter_group(DBParameterGroupName="untagged", **create)
            with pytest.raises(InsufficientPrivilege, match="rds:CreateDBParameterGroup"):
                client("rds").create_db_parameter_group(
                    DBParameterGroupName="tagged", Tags=[{"Key": "created-by", "Value": "rds-cdc-setup"}], **create
                )
    assert policies.denied == [
        "EnsureParameterGroup: rds:AddTagsToResource on arn:aws:rds:us-east-1:123456789012:pg:tagged "
        "is not granted to its role"
    ]


def test_a_request_signed_with_other_credentials_during_a_step_is_refused(template):
    policies = StepPolicies(template)
    for _ in enforce(policies, "DescribeTarget"):
        with as_step(function_arn("DescribeTarget")), pytest.raises(Exception, match="AccessDenied"):
            boto3.client("rds").describe_db_instances()  # the default credentials, not the step's
    assert [d.split(":")[0] for d in policies.denied] == ["DescribeTarget"]
    assert "signed with another key" in policies.denied[0]


def test_conditions_are_not_evaluated_by_moto(template):
    """Pins moto's limit: a tag condition (rds:db-tag/<opt-in>) lets an untagged instance through.
    tests/infra/test_permissions.py checks the conditions; if this fails, moto evaluates them now:
    say so in local/step_policies.py."""
    policies = StepPolicies(template)
    for _ in enforce(policies, "RebootInstance"):
        add_instance("untagged")
        with as_step(function_arn("RebootInstance")):
            client("rds").reboot_db_instance(DBInstanceIdentifier="untagged")
    assert policies.denied == []
