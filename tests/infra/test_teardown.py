"""The teardown construct in the synthesized stack: functions per task, least privilege, outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template
from cfnlint.api import ManualArgs, lint

from infra.target_lock import TargetLock
from infra.teardown import CdcTeardownWorkflow
from lambdas.logic.monitoring import ALARM_NAME_PREFIX
from lambdas.shared.names import handler_module
from tests.infra.synth import VPC_CONTEXT, synthesize

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "statemachine" / "cdc_teardown.asl.json").read_text())
TASKS = sorted(name for name, state in ASL["States"].items() if state["Type"] == "Task")
DATA_PLANE = {"PlanTeardown", "DropSlot", "DropPublication", "DropSignalTables", "DropUser", "RevertParameterGroup"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    app = App(context={"aws:cdk:bundling-stacks": []}, outdir=str(tmp_path_factory.mktemp("teardown")))
    stack = Stack(app, "Probe")
    CdcTeardownWorkflow(
        stack,
        "Teardown",
        network=None,
        key=kms.Key(stack, "Key"),
        topic=sns.Topic(stack, "Topic"),
        log_retention=logs.RetentionDays.ONE_WEEK,
        lock=TargetLock(stack, "Lock"),
    )
    return Template.from_stack(stack)


def functions(template: Template) -> dict[str, dict[str, Any]]:
    """Task name -> function properties, by handler module."""
    by_module = {handler_module(task): task for task in TASKS}
    found = (fn["Properties"] for fn in template.find_resources("AWS::Lambda::Function").values())
    return {by_module[p["Handler"].split(".")[2]]: p for p in found if p["Handler"].split(".")[2] in by_module}


def actions(template: Template, role_id: str) -> set[str]:
    role = template.find_resources("AWS::IAM::Role")[role_id]["Properties"]
    managed = template.find_resources("AWS::IAM::ManagedPolicy")
    documents = [managed[ref["Ref"]]["Properties"]["PolicyDocument"] for ref in role.get("ManagedPolicyArns", [])]
    documents += [
        p["Properties"]["PolicyDocument"]
        for p in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    found = set()
    for statement in (s for doc in documents for s in doc["Statement"]):
        found |= {statement["Action"]} if isinstance(statement["Action"], str) else set(statement["Action"])
    return found


def test_every_task_of_the_teardown_asl_has_its_own_function_and_handler_module(template):
    found = functions(template)
    assert sorted(found) == TASKS
    for task, props in found.items():
        module = props["Handler"].split(".")[2]
        assert (ROOT / "lambdas" / "handlers" / f"{module}.py").is_file()
        assert props["Timeout"] == (120 if task in DATA_PLANE else 60), task


def test_the_state_machine_runs_the_asl_file_with_each_placeholder_substituted(template):
    [machine] = template.find_resources("AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    assert props["StateMachineName"] == "rds-cdc-teardown"
    assert json.loads(props["DefinitionString"])["States"].keys() == ASL["States"].keys()
    assert set(props["DefinitionSubstitutions"]) == {f"{task}FunctionArn" for task in TASKS}
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False


def test_only_drop_user_may_delete_secrets_and_only_revert_may_modify_the_instance(template):
    for task, props in functions(template).items():
        granted = actions(template, props["Role"]["Fn::GetAtt"][0])
        assert ("secretsmanager:DeleteSecret" in granted) == (task == "DropUser"), task
        # RevertParameterGroup attaches a group again, DropSecurityGroup detaches its own group
        assert ("rds:ModifyDBInstance" in granted) == (task in {"RevertParameterGroup", "DropSecurityGroup"}), task
        assert ("ec2:DeleteSecurityGroup" in granted) == (task == "DropSecurityGroup"), task
        assert ("secretsmanager:GetSecretValue" in granted) == (task in DATA_PLANE), task
        assert ("sns:Publish" in granted) == (task in {"ReportTeardown", "NotifyTeardownFailure"}), task
        assert not any("*" in action for action in granted), task
        assert {"rds:RebootDBInstance", "secretsmanager:CreateSecret", "rds:ModifyDBParameterGroup"}.isdisjoint(granted)


def test_teardown_reads_no_parameter_values_and_only_the_groups_tags(template):
    """Teardown never plans parameter values; whose a group is, it reads from the group's tags."""
    managed = template.find_resources("AWS::IAM::ManagedPolicy")
    for task, props in functions(template).items():
        granted = actions(template, props["Role"]["Fn::GetAtt"][0])
        assert {"rds:DescribeDBParameters", "rds:DescribeDBClusterParameters"}.isdisjoint(granted), task
        assert ("rds:ListTagsForResource" in granted) == (task in {"PlanTeardown", "RevertParameterGroup"}), task
    tag_readers = [
        s
        for policy in managed.values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "rds:ListTagsForResource" in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert tag_readers
    for statement in tag_readers:  # ARNs as CloudFormation joins: ...:rds:<region>:<account>:pg:*
        arns = json.dumps(statement["Resource"])
        assert ':pg:*"' in arns or ':cluster-pg:*"' in arns, arns
        assert ":db:" not in arns and ':cluster:*"' not in arns, arns


def test_only_drop_alarms_may_delete_alarms_and_only_those_named_with_the_workflows_prefix(template):
    managed = template.find_resources("AWS::IAM::ManagedPolicy")
    for task, props in functions(template).items():
        granted = actions(template, props["Role"]["Fn::GetAtt"][0])
        assert ("cloudwatch:DeleteAlarms" in granted) == (task == "DropAlarms"), task
        assert ("cloudwatch:DescribeAlarms" in granted) == (task in {"DropAlarms", "PlanTeardown"}), task
    statements = [
        s
        for policy in managed.values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(a.startswith("cloudwatch:") for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    ]
    assert statements
    for statement in statements:
        assert statement["Resource"] == {
            "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":cloudwatch:", {"Ref": "AWS::Region"}, ":",
                              {"Ref": "AWS::AccountId"}, f":alarm:{ALARM_NAME_PREFIX}*"]]
        }  # fmt: skip


def test_only_the_lock_steps_reach_the_lock_table_and_ask_whether_an_execution_runs(template):
    lock_steps = {"AcquireTeardownLock", "ReleaseTeardownLock"}
    for task, props in functions(template).items():
        granted = actions(template, props["Role"]["Fn::GetAtt"][0])
        take, release = {"dynamodb:PutItem", "dynamodb:GetItem", "states:DescribeExecution"}, {"dynamodb:DeleteItem"}
        lock = take | release
        assert (granted & lock) == {"AcquireTeardownLock": take, "ReleaseTeardownLock": release}.get(task, set()), task
        assert not any(a.startswith(("dynamodb:", "states:")) for a in granted - lock), task
        assert ("LOCK_TABLE_NAME" in props["Environment"]["Variables"]) == (task in lock_steps), task


def test_the_template_passes_cfn_lint(template):
    matches = lint(json.dumps(template.to_json()), config=ManualArgs(regions=["us-east-1"], ignore_checks=["W3005"]))
    assert [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")] == []


def test_the_stack_deploys_it_beside_the_setup_with_its_data_plane_in_the_vpc(tmp_path: Path):
    # Given the real stack with a VPC (cdk-nag runs: unacknowledged findings fail the synth)
    synth = synthesize(tmp_path, **VPC_CONTEXT)

    machines = synth.resources("AWS::StepFunctions::StateMachine").values()
    assert "rds-cdc-teardown" in {m["Properties"].get("StateMachineName") for m in machines}
    assert "TeardownStateMachineArn" in synth.template.find_outputs("*")
    for task, props in functions(synth.template).items():
        if task in DATA_PLANE:
            assert props["VpcConfig"]["SubnetIds"] == VPC_CONTEXT["subnet_ids"], task
        else:
            assert "VpcConfig" not in props, task
