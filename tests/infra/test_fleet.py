"""The fleet construct in the synthesized stack: a Map of bounded concurrency over child executions
of the setup state machine, which is all its role may start."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.synth import ROOT, Synth, actions_of, rendered, resources_of, role_statements

pytestmark = pytest.mark.infra

ASL = json.loads((ROOT / "statemachine" / "cdc_fleet.asl.json").read_text())


def machines(synth: Synth) -> dict[str, tuple[str, dict[str, Any]]]:
    """StateMachineName -> (logical id, properties)."""
    return {
        m["Properties"]["StateMachineName"]: (logical_id, m["Properties"])
        for logical_id, m in synth.resources("AWS::StepFunctions::StateMachine").items()
    }


def fleet_functions(synth: Synth) -> dict[str, dict[str, Any]]:
    """Task -> properties of the fleet's functions, by handler module."""
    modules = {
        "resolve_fleet": "ResolveFleet",
        "summarize_member": "SummarizeMember",
        "summarize_fleet": "SummarizeFleet",
    }
    found = (f["Properties"] for f in synth.resources("AWS::Lambda::Function").values())
    return {modules[p["Handler"].split(".")[2]]: p for p in found if p["Handler"].split(".")[2] in modules}


def test_the_map_runs_the_setup_as_child_executions_a_few_at_a_time(with_vpc: Synth) -> None:
    setup_id, _ = machines(with_vpc)["rds-cdc-setup"]
    _, fleet = machines(with_vpc)["rds-cdc-fleet"]
    definition = json.loads(fleet["DefinitionString"])
    assert definition == ASL
    each = definition["States"]["SetupEachInstance"]
    assert each["Type"] == "Map" and each["MaxConcurrencyPath"] == "$.fleet.max_concurrency"  # ResolveFleet's
    start = each["ItemProcessor"]["States"]["StartSetup"]
    assert start["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    assert start["Parameters"]["StateMachineArn"] == "${SetupStateMachineArn}"
    assert [c["ErrorEquals"] for c in start["Catch"]] == [["States.ALL"]]  # one failure never stops the others
    assert fleet["DefinitionSubstitutions"]["SetupStateMachineArn"] == {"Ref": setup_id}
    assert set(fleet["DefinitionSubstitutions"]) == {
        "SetupStateMachineArn",
        "ResolveFleetFunctionArn",
        "SummarizeMemberFunctionArn",
        "SummarizeFleetFunctionArn",
    }
    assert fleet["LoggingConfiguration"]["IncludeExecutionData"] is False


def test_only_the_fleet_may_start_executions_and_only_of_the_setup_state_machine(synth: Synth) -> None:
    setup_id, _ = machines(synth)["rds-cdc-setup"]
    _, fleet = machines(synth)["rds-cdc-fleet"]
    fleet_role = fleet["RoleArn"]["Fn::GetAtt"][0]
    fleet_statements = role_statements(synth, fleet_role)
    [start] = [s for s in fleet_statements if "states:StartExecution" in actions_of(s)]
    assert actions_of(start) == ["states:StartExecution"] and start["Resource"] == {"Ref": setup_id}
    [follow] = [s for s in fleet_statements if "states:DescribeExecution" in actions_of(s)]
    assert resources_of(follow) == [
        "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:rds-cdc-setup:*"
    ]
    # Every other grant of StartExecution in the stack is on the setup (the EventBridge rules'), or on the
    # check (Scheduler's role, the lifecycle rules', the check's own children), by reference or by name.
    check_id, _ = machines(synth)["rds-cdc-check"]
    check_by_name = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:rds-cdc-check"
    allowed = {f"${{{setup_id}}}", f"${{{check_id}}}", check_by_name}
    for role_id in synth.resources("AWS::IAM::Role"):
        for statement in role_statements(synth, role_id):
            if "states:StartExecution" in actions_of(statement):
                assert rendered(statement["Resource"]) in allowed, role_id
    invoked = [s for s in fleet_statements if "lambda:InvokeFunction" in actions_of(s)]
    assert len(invoked) == 1 and len(invoked[0]["Resource"]) == 3


def test_resolve_fleet_may_only_list_instances_and_no_fleet_function_runs_in_the_vpc(with_vpc: Synth) -> None:
    functions = fleet_functions(with_vpc)
    assert sorted(functions) == ["ResolveFleet", "SummarizeFleet", "SummarizeMember"]
    for task, props in functions.items():
        assert "VpcConfig" not in props, task
        granted = {a for s in role_statements(with_vpc, props["Role"]["Fn::GetAtt"][0]) for a in actions_of(s)}
        granted = {a for a in granted if a.split(":")[0] not in {"logs", "xray"}}
        assert granted == ({"rds:DescribeDBInstances"} if task == "ResolveFleet" else set()), task


def test_the_stack_outputs_the_fleet_state_machine(synth: Synth) -> None:
    fleet_id, _ = machines(synth)["rds-cdc-fleet"]
    assert synth.template.find_outputs("FleetStateMachineArn")["FleetStateMachineArn"]["Value"] == {"Ref": fleet_id}
