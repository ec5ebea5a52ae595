"""The synthesized stack, shared by the infra tests: synth as app.py does, and template helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from infra.config import CdcSetupConfig
from infra.stack import CdcSetupStack

ROOT = Path(__file__).resolve().parents[2]
OWN_MASTER_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:orders-master-AbCdEf"
VPC_CONTEXT = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
    "security_group_ids": ["sg-0123456789abcdef0"],
    "notification_email": "dba@example.com",
    "log_retention_days": 14,
    "opt_in_tag": "cdc-setup=yes",
    "create_vpc_endpoints": True,
    "master_secret_arns": [OWN_MASTER_SECRET],
}


@dataclass(frozen=True)
class Synth:
    app: App
    stack: CdcSetupStack
    template: Template
    report: dict[str, Any]
    config: CdcSetupConfig

    @cached_property
    def template_json(self) -> dict[str, Any]:
        """The template as plain JSON, read once: each jsii call serializes the whole template."""
        return self.template.to_json()

    def resources(self, type_: str) -> dict[str, Any]:
        return {k: v for k, v in self.template_json["Resources"].items() if v["Type"] == type_}

    def workflow(self, type_: str) -> dict[str, Any]:
        """The setup workflow's resources of a type (the stack holds the teardown's too)."""
        return {k: v for k, v in self.resources(type_).items() if k.startswith("Workflow")}

    def function_ids(self) -> dict[str, str]:
        """Task name -> logical id of the setup workflow function whose handler serves it."""
        ids = {}
        for logical_id, fn in self.workflow("AWS::Lambda::Function").items():
            module = fn["Properties"]["Handler"].split(".")[2]
            ids["".join(part.title() for part in module.split("_"))] = logical_id
        return ids

    def function(self, task: str) -> dict[str, Any]:
        return self.resources("AWS::Lambda::Function")[self.function_ids()[task]]["Properties"]

    def state_machine(self) -> tuple[str, dict[str, Any]]:
        [(logical_id, machine)] = self.workflow("AWS::StepFunctions::StateMachine").items()
        return logical_id, machine["Properties"]


def synthesize(outdir: Path, **context: Any) -> Synth:
    """As app.py does, with cdk.json's context (feature flags included) and no asset bundling."""
    defaults = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = App(context={**defaults, **context, "aws:cdk:bundling-stacks": []}, outdir=str(outdir))
    config = CdcSetupConfig.from_context(app)
    stack = CdcSetupStack(app, "RdsCdcSetup", config=config)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    assembly = app.synth()  # raises with the report on unacknowledged cdk-nag findings
    report = json.loads((outdir / "validation-report.json").read_text())
    template = Template.from_json(assembly.get_stack_by_name("RdsCdcSetup").template)
    return Synth(app, stack, template, report, config)


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else action


def rendered(value: Any) -> str:
    """An ARN built with Fn::Join and pseudo-parameter refs, as text: arn:${AWS::Partition}:..."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    separator, parts = value["Fn::Join"]
    return separator.join(rendered(part) for part in parts)


def resources_of(statement: dict[str, Any]) -> list[str]:
    resource = statement["Resource"]
    return [rendered(r) for r in (resource if isinstance(resource, list) else [resource])]


def role_statements(synth: Synth, role_id: str) -> list[dict[str, Any]]:
    """Every statement a role gets, from its inline default policy and its managed policies."""
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
    return [s for doc in documents for s in doc["Statement"]]


def step_statements(synth: Synth, task: str) -> list[dict[str, Any]]:
    return role_statements(synth, synth.function(task)["Role"]["Fn::GetAtt"][0])
