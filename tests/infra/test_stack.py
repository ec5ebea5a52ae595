"""Synthesized template of the stack: functions, state machine, IAM, cdk-nag and cfn-lint."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Validations
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint

from infra.config import CdcSetupConfig
from infra.stack import CdcSetupStack

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "statemachine" / "cdc_setup.asl.json").read_text())
TASKS = sorted(name for name, state in ASL["States"].items() if state["Type"] == "Task")
DATA_PLANE = {"Preflight", "CheckRebootStatus", "ConfigureDatabase", "CreateSlot", "Verify"}
VPC_CONTEXT = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
    "security_group_ids": ["sg-0123456789abcdef0"],
    "notification_email": "dba@example.com",
    "log_retention_days": 14,
}


@dataclass(frozen=True)
class Synth:
    app: App
    stack: CdcSetupStack
    template: Template
    report: dict[str, Any]

    def resources(self, type_: str) -> dict[str, Any]:
        return self.template.find_resources(type_)

    def function_ids(self) -> dict[str, str]:
        """Task name -> logical id of the function whose handler serves it."""
        ids = {}
        for logical_id, fn in self.resources("AWS::Lambda::Function").items():
            module = fn["Properties"]["Handler"].split(".")[2]
            ids["".join(part.title() for part in module.split("_"))] = logical_id
        return ids


def synthesize(outdir: Path, **context: Any) -> Synth:
    """As app.py does, with cdk.json's context (feature flags included) and no asset bundling."""
    defaults = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = App(context={**defaults, **context, "aws:cdk:bundling-stacks": []}, outdir=str(outdir))
    stack = CdcSetupStack(app, "RdsCdcSetup", config=CdcSetupConfig.from_context(app))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    assembly = app.synth()  # raises with the report on unacknowledged cdk-nag findings
    report = json.loads((outdir / "validation-report.json").read_text())
    return Synth(app, stack, Template.from_json(assembly.get_stack_by_name("RdsCdcSetup").template), report)


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="module")
def with_vpc(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("vpc"), **VPC_CONTEXT)


@pytest.fixture(params=["default", "with_vpc"])
def synth(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue(request.param)


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else action


def _role_actions(synth: Synth, role_id: str) -> set[str]:
    """Every action a role gets, from its inline default policy and its managed policies."""
    role = synth.resources("AWS::IAM::Role")[role_id]["Properties"]
    documents = [
        synth.resources("AWS::IAM::ManagedPolicy")[ref["Ref"]]["Properties"]["PolicyDocument"]
        for ref in role.get("ManagedPolicyArns", [])
    ]
    documents += [
        policy["Properties"]["PolicyDocument"]
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
    ]
    return {a for doc in documents for s in doc["Statement"] for a in _actions(s)}


def test_one_function_per_task_with_the_handler_of_its_module(synth: Synth) -> None:
    # Given the ASL's Task states, Then each has exactly one function, whose module exists
    ids = synth.function_ids()
    assert sorted(ids) == TASKS
    for logical_id in ids.values():
        handler = synth.resources("AWS::Lambda::Function")[logical_id]["Properties"]["Handler"]
        package, handlers, module, function = handler.split(".")
        assert (package, handlers, function) == ("lambdas", "handlers", "handler")
        assert (ROOT / "lambdas" / "handlers" / f"{module}.py").is_file(), handler


def test_functions_run_python_on_arm64_with_tracing_and_the_shared_environment(synth: Synth) -> None:
    for logical_id, fn in synth.resources("AWS::Lambda::Function").items():
        props = fn["Properties"]
        assert props["Runtime"] in ("python3.12", "python3.13"), logical_id
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["MemorySize"] == 256
        assert "LogGroup" in props["LoggingConfig"]
        env = props["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == "rds-cdc-setup"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "RdsCdcSetup"
        assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
        assert env["SECRET_NAME_PREFIX"] == "rds-cdc-setup/"
        assert env["NOTIFICATION_TOPIC_ARN"] == {"Ref": next(iter(synth.resources("AWS::SNS::Topic")))}
        assert env["SECRETS_KMS_KEY_ARN"] == {"Fn::GetAtt": [next(iter(synth.resources("AWS::KMS::Key"))), "Arn"]}


def test_data_plane_functions_get_the_longer_timeout(default: Synth) -> None:
    for task, logical_id in default.function_ids().items():
        timeout = default.resources("AWS::Lambda::Function")[logical_id]["Properties"]["Timeout"]
        assert timeout == (120 if task in DATA_PLANE else 60), task


def test_with_a_vpc_only_data_plane_functions_run_in_it(with_vpc: Synth) -> None:
    for task, logical_id in with_vpc.function_ids().items():
        props = with_vpc.resources("AWS::Lambda::Function")[logical_id]["Properties"]
        if task in DATA_PLANE:
            assert props["VpcConfig"] == {
                "SubnetIds": VPC_CONTEXT["subnet_ids"],
                "SecurityGroupIds": VPC_CONTEXT["security_group_ids"],
            }, task
        else:
            assert "VpcConfig" not in props, task


def test_without_a_vpc_no_function_has_vpc_config_and_synth_warns(default: Synth) -> None:
    for fn in default.resources("AWS::Lambda::Function").values():
        assert "VpcConfig" not in fn["Properties"]
    Annotations.from_stack(default.stack).has_warning("*", Match.string_like_regexp("No vpc_id in context"))


def test_state_machine_definition_has_every_state_and_each_placeholder_maps_to_its_function(synth: Synth) -> None:
    [machine] = synth.resources("AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    definition = props["DefinitionString"]
    assert isinstance(definition, str)  # a literal, so cfn-lint validates it
    assert json.loads(definition)["States"].keys() == ASL["States"].keys()
    placeholders = set(re.findall(r"\$\{(\w+)\}", definition))
    assert placeholders == {f"{task}FunctionArn" for task in TASKS}
    assert props["DefinitionSubstitutions"] == {
        f"{task}FunctionArn": {"Fn::GetAtt": [logical_id, "Arn"]} for task, logical_id in synth.function_ids().items()
    }


def test_state_machine_logs_every_event_without_execution_data_and_is_traced(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "LoggingConfiguration": {"Level": "ALL", "IncludeExecutionData": False, "Destinations": Match.any_value()},
            "TracingConfiguration": {"Enabled": True},
        },
    )


def test_log_groups_keep_the_configured_retention(default: Synth, with_vpc: Synth) -> None:
    # One per function plus the state machine's
    for synth, days in ((default, 30), (with_vpc, VPC_CONTEXT["log_retention_days"])):
        groups = synth.resources("AWS::Logs::LogGroup").values()
        assert len(groups) == len(TASKS) + 1
        assert {g["Properties"]["RetentionInDays"] for g in groups} == {days}


def test_no_iam_policy_grants_a_wildcard_action(synth: Synth) -> None:
    documents = [p["Properties"]["PolicyDocument"] for p in synth.resources("AWS::IAM::Policy").values()]
    documents += [p["Properties"]["PolicyDocument"] for p in synth.resources("AWS::IAM::ManagedPolicy").values()]
    actions = [a for doc in documents for s in doc["Statement"] for a in _actions(s)]
    assert actions
    assert [a for a in actions if "*" in a] == []


def test_each_function_gets_only_the_access_of_its_plane(with_vpc: Synth) -> None:
    functions = with_vpc.resources("AWS::Lambda::Function")
    for task, logical_id in with_vpc.function_ids().items():
        actions = _role_actions(with_vpc, functions[logical_id]["Properties"]["Role"]["Fn::GetAtt"][0])
        assert ("secretsmanager:GetSecretValue" in actions) == (task in DATA_PLANE), task
        assert ("ec2:CreateNetworkInterface" in actions) == (task in DATA_PLANE), task
        assert ("sns:Publish" in actions) == (task in {"Report", "NotifyFailure"}), task
        assert ("rds:ModifyDBParameterGroup" in actions) == (
            task in {"DescribeTarget", "EnsureParameterGroup", "RebootInstance"}
        ), task
        if task == "CheckRebootStatus":  # reissues a reboot that came too early
            assert {"rds:DescribeDBInstances", "rds:RebootDBInstance"} <= actions
        if task == "ValidateInput":  # pure: its logs and traces only
            assert {a.split(":")[0] for a in actions} == {"logs", "xray"}


def test_state_machine_may_invoke_exactly_the_step_functions(synth: Synth) -> None:
    [machine] = synth.resources("AWS::StepFunctions::StateMachine").values()
    role_id = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "lambda:InvokeFunction" in _actions(s)
    ]
    assert [_actions(s) for s in statements] == [["lambda:InvokeFunction"]]
    assert sorted(statements[0]["Resource"], key=str) == sorted(
        ({"Fn::GetAtt": [i, "Arn"]} for i in synth.function_ids().values()), key=str
    )


def test_topic_is_encrypted_with_the_rotating_key_and_mails_the_dba(default: Synth, with_vpc: Synth) -> None:
    for synth in (default, with_vpc):
        [key_id] = synth.resources("AWS::KMS::Key")
        synth.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
        synth.template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}})
    default.template.resource_count_is("AWS::SNS::Subscription", 0)
    with_vpc.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": VPC_CONTEXT["notification_email"]}
    )


def test_outputs_name_the_state_machine_its_console_page_and_the_topic(synth: Synth) -> None:
    outputs = synth.template.find_outputs("*")
    assert {"StateMachineArn", "StateMachineConsoleUrl", "NotificationTopicArn"} <= outputs.keys()


def test_cdk_nag_reports_no_unacknowledged_findings(synth: Synth) -> None:
    findings = [
        (v["ruleName"], [c.get("constructPath") for c in v.get("violatingConstructs", [])])
        for plugin in synth.report["pluginReports"]
        if plugin["pluginName"] == "AwsSolutions"
        for v in plugin["violations"]
    ]
    assert findings == []


def test_cdk_nag_plugin_does_report_findings(tmp_path: Path) -> None:
    # Given an app with one wildcard policy, Then synth fails: the empty report above means something
    app = App(outdir=str(tmp_path))
    stack = CdcSetupStack(app, "Probe", config=CdcSetupConfig())
    iam.ManagedPolicy(stack, "Loose", statements=[iam.PolicyStatement(actions=["sns:Publish"], resources=["*"])])
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(Exception, match=re.escape("AwsSolutions-IAM5[Resource::*]")):
        app.synth()


def test_cfn_lint_finds_no_errors(synth: Synth) -> None:
    matches = lint(
        json.dumps(synth.template.to_json()),
        config=ManualArgs(regions=["us-east-1"], ignore_checks=["W3005"]),
    )
    assert [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")] == []
