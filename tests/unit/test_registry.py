"""The step registry (lambdas/shared/steps.py) against everything a step needs elsewhere: each ASL
file both ways, the state models, the handlers, the reports and teardown. Each test fails when
one of the files a new step takes is left out."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args, get_type_hints

import pytest
from pydantic import BaseModel

from lambdas.shared import steps as registry
from lambdas.shared.check_models import CheckState
from lambdas.shared.models import WorkflowState
from lambdas.shared.names import HANDLERS_PACKAGE
from lambdas.shared.steps import STEPS, Access, Step, Workflow, change_keys, step_named, steps_of
from lambdas.shared.teardown_models import TeardownState

ROOT = Path(__file__).resolve().parents[2]
STATE_MODELS: dict[Workflow, type[BaseModel]] = {
    Workflow.SETUP: WorkflowState,
    Workflow.TEARDOWN: TeardownState,
    Workflow.CHECK: CheckState,
}
# Result keys no step parses: only the ASL reads them (Choices, InputPath, ItemsPath, ErrorPath), or the output.
READ_BY_THE_ASL_ONLY = {
    (Workflow.SETUP, "trigger"),  # IsOptedIn, UseTaggedSettings' InputPath
    (Workflow.CHECK, "prepared"),  # IsPrepared, NotPrepared's OutputPath, CheckEachPrepared's ItemsPath
    (Workflow.SETUP, "lock"),  # LockReleased
    (Workflow.SETUP, "failure"),  # Failed's ErrorPath
    (Workflow.TEARDOWN, "lock"),
    (Workflow.TEARDOWN, "failure"),
    (Workflow.FLEET, "fleet"),  # the Map's ItemsPath
    (Workflow.CHECK, "lock"),  # CheckLockReleased
    (Workflow.CHECK, "failure"),
    (Workflow.CHECK, "published"),  # PublishFindings' own: the execution's output, after ReportCheck read the state
}
# Changes no teardown step undoes, and why.
NOT_UNDONE = {
    "RebootInstance": "a reboot is over once done; teardown leaves the next reboot to the DBA",
    "RegisterSource": "the Streamkap source is deleted in Streamkap (console or API); teardown does not call Streamkap",
}


def tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Task state, those inside Map and Parallel states included."""
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        for inner in [state.get("ItemProcessor") or state.get("Iterator"), *state.get("Branches", [])]:
            if inner:
                yield from tasks(inner["States"])


def lambda_tasks(workflow: Workflow) -> dict[str, dict[str, Any]]:
    """The Tasks of the workflow's ASL file that invoke one of our functions (${...FunctionArn})."""
    asl = json.loads((ROOT / "statemachine" / workflow.value).read_text())
    return {name: state for name, state in tasks(asl["States"]) if str(state["Resource"]).endswith("FunctionArn}")}


@pytest.mark.parametrize("workflow", list(Workflow), ids=lambda w: w.name)
def test_each_asl_file_has_a_task_for_each_step_and_a_step_for_each_task(workflow: Workflow) -> None:
    assert sorted(lambda_tasks(workflow)) == sorted(step.name for step in steps_of(workflow))


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_each_task_invokes_its_steps_function_and_puts_the_result_where_the_registry_says(step: Step) -> None:
    task = lambda_tasks(step.workflow)[step.name]
    assert task["Resource"] == f"${{{step.placeholder}}}"
    assert task.get("ResultPath", "$") == step.result_path  # ASL's default ResultPath is "$"


@pytest.mark.parametrize("step", [s for s in STEPS if s.result_key], ids=lambda s: s.name)
def test_each_result_key_is_a_field_of_the_workflows_state(step: Step) -> None:
    # The state models ignore unknown keys: an undeclared result would vanish before the next step.
    if (step.workflow, step.result_key) in READ_BY_THE_ASL_ONLY:
        return
    assert step.result_key in STATE_MODELS[step.workflow].model_fields, (step.name, step.result_key)


@pytest.mark.parametrize("workflow", list(STATE_MODELS), ids=lambda w: w.name)
def test_each_field_of_the_state_is_the_input_or_a_steps_result(workflow: Workflow) -> None:
    results = {step.result_key for step in steps_of(workflow)}
    assert set(STATE_MODELS[workflow].model_fields) - results == {"input"}


def result_model(workflow: Workflow, key: str) -> type[BaseModel]:
    annotation = get_type_hints(STATE_MODELS[workflow])[key]
    [model] = [
        arg for arg in (annotation, *get_args(annotation)) if isinstance(arg, type) and issubclass(arg, BaseModel)
    ]
    return model


@pytest.mark.parametrize("workflow", list(STATE_MODELS), ids=lambda w: w.name)
def test_exactly_the_steps_marked_as_changing_have_results_that_list_changes(workflow: Workflow) -> None:
    with_changes = {
        key
        for key in STATE_MODELS[workflow].model_fields
        if key != "input" and "changes" in result_model(workflow, key).model_fields
    }
    assert set(change_keys(workflow)) == with_changes


def test_the_reports_collect_changes_in_run_order() -> None:
    assert change_keys(Workflow.SETUP) == (
        "parameter_group",
        "reboot",
        "configure",
        "alarms",
        "slot",
        "check_schedule",
        "security_group",
        "source",
    )
    assert change_keys(Workflow.TEARDOWN) == (
        "slot",
        "publication",
        "tables",
        "user",
        "parameter_group",
        "alarms",
        "security_group",
        "check_schedule",
    )
    assert change_keys(Workflow.CHECK) == ("repair",)


def test_what_setup_changes_a_teardown_step_undoes_and_each_teardown_change_undoes_a_setup_step() -> None:
    changing = [step for step in steps_of(Workflow.SETUP) if step.changes]
    for step in changing:
        assert bool(step.undone_by) != (step.name in NOT_UNDONE), step.name
        for counterpart in map(step_named, step.undone_by):
            assert counterpart.workflow is Workflow.TEARDOWN and counterpart.changes, counterpart.name
    undone = {name for step in changing for name in step.undone_by}
    assert undone == {step.name for step in steps_of(Workflow.TEARDOWN) if step.changes}
    assert {step.name for step in STEPS if step.undone_by} <= {step.name for step in changing}


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_each_steps_handler_imports_and_is_callable(step: Step) -> None:
    module, _, attribute = step.handler.rpartition(".")
    assert callable(getattr(importlib.import_module(module), attribute))


def test_each_handler_module_serves_a_step() -> None:
    modules = {p.stem for p in (ROOT / "lambdas" / "handlers").glob("*.py")} - {"__init__"}
    assert modules == {step.handler.split(".")[2] for step in STEPS}
    assert all(step.handler.startswith(f"{HANDLERS_PACKAGE}.") for step in STEPS)


def test_step_names_are_unique_and_lookup_finds_each() -> None:
    assert len({step.name for step in STEPS}) == len(STEPS)
    assert all(step_named(step.name) is step for step in STEPS)
    with pytest.raises(KeyError, match="NoSuchStep"):
        step_named("NoSuchStep")


def test_every_access_is_used_by_a_step_and_data_plane_steps_are_the_sql_ones() -> None:
    assert {access for step in STEPS for access in step.access} == set(Access)
    # A step holding the master secret speaks SQL: in the VPC (DescribeTarget only reads RDS).
    assert all(step.in_vpc for step in STEPS if Access.MASTER_SECRET in step.access)


def test_result_key_reads_the_result_path() -> None:
    assert step_named("ConfigureDatabase").result_key == "configure"
    assert step_named("ValidateInput").result_key is None  # "$": replaces the state
    assert step_named("ReleaseLock").result_key is None  # null: discarded
    assert step_named("DropSlot").handler == "lambdas.handlers.drop_slot.handler"
    assert step_named("DropSlot").placeholder == "DropSlotFunctionArn"
    assert registry.Workflow(Workflow.TEARDOWN.value) is Workflow.TEARDOWN
    names = [workflow.state_machine_name for workflow in Workflow]
    assert names == ["rds-cdc-setup", "rds-cdc-teardown", "rds-cdc-fleet", "rds-cdc-check"]


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_the_readme_says_what_each_step_does(step: Step) -> None:
    readme = (ROOT / "README.md").read_text()
    assert step.name in readme, f"README.md: describe {step.name} (How it works, or its workflow's section)"
