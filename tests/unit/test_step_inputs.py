"""Each Lambda step's input model against the real ASL, on every path through it.

A step parses `<Step>Input`: the keys it reads, required where every path of the state machine that
reaches the step has the key, optional only where some path lacks it. The paths are walked here, not
run: each state's input is followed from StartAt through every Choice branch, Catch and loop, as the
set of top-level keys the state holds on that path (a Task adds its ResultPath key, a Catch its error
key; ValidateInput's ResultSelector makes the state {input, execution_arn}), together with what the
Choices taken on the path asserted (IsDryRun's self_managed = true excludes HasRdsMetrics' default,
so CreateAlarms is never reached on the self-managed path, which has no parameter_group).
tests/workflow/test_step_inputs.py parses real runs' inputs with the same models."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from lambdas.shared import check_models, fleet_models, models, names, teardown_models
from lambdas.shared.step import INPUT_MODELS

STATEMACHINE = Path(__file__).resolve().parents[2] / "statemachine"
WORKFLOWS = {
    "cdc_setup.asl.json": models,
    "cdc_teardown.asl.json": teardown_models,
    "cdc_fleet.asl.json": fleet_models,
    "cdc_check.asl.json": check_models,
}
LAMBDA = re.compile(r"^\$\{(\w+)FunctionArn\}$")
# They parse the execution input themselves: a bad one is InvalidInput naming every problem.
VALIDATORS = {"ValidateInput", "ValidateTeardownInput", "ResolveFleet", "ValidateCheckInput"}
# They read every step's result, whichever ran: the whole state, the results of the steps some path skips optional.
WHOLE_STATE = {
    "Report": models.WorkflowState,
    "ReportTeardown": teardown_models.TeardownState,
    "ReportCheck": check_models.CheckState,
}

Fact = tuple[str, str, Any, bool]  # (Variable, comparison, value, held) of a Choice rule on the path


@dataclass(frozen=True)
class Reach:
    """The state on one way into a state: its top-level keys, and what the Choices taken asserted.
    `exact` is False while the state is (part of) the execution input, whose keys are the caller's."""

    keys: frozenset[str]
    exact: bool = True
    facts: frozenset[Fact] = frozenset()

    def with_key(self, key: str) -> Reach:
        kept = frozenset(f for f in self.facts if not (f[0] == f"$.{key}" or f[0].startswith(f"$.{key}.")))
        return replace(self, keys=self.keys | {key}, facts=kept)


@dataclass
class TaskInput:
    """What a Lambda Task is invoked with on one way in: the state, or the ASL's Parameters."""

    keys: frozenset[str]
    exact: bool
    whole_state: dict[str, Reach] = field(default_factory=dict)  # Parameters "x.$": "$": the state as key x


class UnmodelledAsl(Exception):
    """The ASL uses a construct the walk does not model: the test fails instead of passing blind."""


def lambda_steps(asl: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(state name, step, definition) of every Lambda Task, those in a Map's ItemProcessor included."""
    for name, state in asl["States"].items():
        if state["Type"] == "Task" and (match := LAMBDA.match(state["Resource"])):
            yield name, match[1], state
        if state["Type"] == "Map":
            yield from lambda_steps(state["ItemProcessor"])


def reaches(asl: dict[str, Any], start: Reach) -> dict[str, set[Reach]]:
    """Every distinct way into every state of `asl` (one level: a Map's ItemProcessor is walked apart)."""
    states = asl["States"]
    found: dict[str, set[Reach]] = {name: set() for name in states}
    todo = [(asl["StartAt"], start)]
    while todo:
        name, reach = todo.pop()
        if reach in found[name]:
            continue
        found[name].add(reach)
        todo += successors(states[name], reach)
    return found


def successors(state: dict[str, Any], reach: Reach) -> list[tuple[str, Reach]]:
    kind = state["Type"]
    if kind in ("Succeed", "Fail"):
        return []
    if kind == "Choice":
        return choice(state, reach)
    if kind == "Pass" and state.get("End"):
        return []  # what an ending Pass outputs reaches no step (Skipped, a lifecycle check's summary)
    if kind in ("Wait", "Pass"):
        if {"OutputPath", "Parameters", "Result", "ResultPath"} & set(state):
            raise UnmodelledAsl(f"the walk does not model this {kind}: {sorted(state)}")
        if "InputPath" in state:  # a part of the state becomes the state: its keys are not known
            reach = Reach(frozenset(), exact=False)
        return [] if state.get("End") else [(state["Next"], reach)]
    if kind not in ("Task", "Map") or {"InputPath", "OutputPath"} & set(state):
        raise UnmodelledAsl(f"the walk does not model this {kind}: {sorted(state)}")
    path, selector = state.get("ResultPath", "$"), state.get("ResultSelector")
    after = result(reach, path, selector, returned_keys(state) if path == "$" and not selector else None)
    found = [] if state.get("End") else [(state["Next"], after)]
    for catcher in state.get("Catch", []):
        found.append((catcher["Next"], result(reach, catcher.get("ResultPath", "$"), None)))
    return found


def returned_keys(state: dict[str, Any]) -> frozenset[str] | None:
    """The fields of the model a Lambda step's handler returns (its annotation), where it returns one."""
    match = LAMBDA.match(str(state.get("Resource", "")))
    if not match:
        return None
    module = importlib.import_module(f"{names.HANDLERS_PACKAGE}.{names.handler_module(match[1])}")
    returned = typing.get_type_hints(inspect.unwrap(module.handler)).get("return")
    return frozenset(returned.model_fields) if isinstance(returned, type) and issubclass(returned, BaseModel) else None


def result(
    reach: Reach, path: str | None, selector: dict[str, Any] | None, returned: frozenset[str] | None = None
) -> Reach:
    if path is None:
        return reach
    if path == "$":  # the result is the state: the selector's keys, or the handler's own output
        if selector:
            return Reach(frozenset(k.removesuffix(".$") for k in selector))
        # The returned model's fields are there (its defaults dumped too: not exact, so a field a later
        # step reads optionally need not be required); a handler returning a dict: unknown keys.
        return Reach(returned or frozenset(), exact=False)
    key = path.removeprefix("$.")
    if "." in key or "[" in key:
        raise UnmodelledAsl(f"the walk does not model ResultPath {path}")
    return reach.with_key(key)


def choice(state: dict[str, Any], reach: Reach) -> list[tuple[str, Reach]]:
    """A Choice takes the first rule that holds: a rule is taken only on the ways where those before it failed."""
    found = []
    for rule in state["Choices"]:
        holds = evaluate(rule, reach)
        if holds is not False:
            found.append((rule["Next"], assume(rule, reach, True)))
        if holds is True:
            return found
        reach = assume(rule, reach, False)
    return [*found, (state["Default"], reach)]


def evaluate(rule: dict[str, Any], reach: Reach) -> bool | None:
    """True or False where the path decides the rule; None where it may go either way."""
    if "And" in rule:
        parts = [evaluate(r, reach) for r in rule["And"]]
        return False if False in parts else (True if all(p is True for p in parts) else None)
    variable, (comparison, value) = rule["Variable"], comparison_of(rule)
    top = variable.removeprefix("$.")
    if comparison == "IsPresent" and "." not in top:
        present = True if top in reach.keys else (False if reach.exact else None)
        return None if present is None else present == value
    if (variable, comparison, value, True) in reach.facts:
        return True
    if (variable, comparison, value, False) in reach.facts:
        return False
    return None


def assume(rule: dict[str, Any], reach: Reach, holds: bool) -> Reach:
    """The way on which `rule` held (or failed): what that says of the state."""
    if "And" in rule:
        if not holds:  # one of them failed, which one is not known
            return reach
        for part in rule["And"]:
            reach = assume(part, reach, True)
        return reach
    variable, (comparison, value) = rule["Variable"], comparison_of(rule)
    top = variable.removeprefix("$.")
    if comparison == "IsPresent" and "." not in top and holds == value:
        return replace(reach, keys=reach.keys | {top})
    facts = {(variable, comparison, value, holds)}
    if comparison == "BooleanEquals":  # a boolean that is not true is false
        facts.add((variable, comparison, not value, not holds))
    return replace(reach, facts=reach.facts | facts)


def comparison_of(rule: dict[str, Any]) -> tuple[str, Any]:
    (comparison,) = [k for k in rule if k not in ("Variable", "Next")]
    if comparison in ("Or", "Not"):
        raise UnmodelledAsl(f"the walk does not model {comparison} rules")
    return comparison, rule[comparison]


def task_inputs(asl: dict[str, Any], start: Reach) -> dict[str, tuple[str, list[TaskInput]]]:
    """Lambda state name -> (its step, every way it is invoked), a Map's ItemProcessor included."""
    found: dict[str, tuple[str, list[TaskInput]]] = {}
    ways = reaches(asl, start)
    for name, state in asl["States"].items():
        if state["Type"] == "Map":
            selector = state["ItemSelector"]
            found |= task_inputs(state["ItemProcessor"], Reach(frozenset(k.removesuffix(".$") for k in selector)))
        elif state["Type"] == "Task" and (match := LAMBDA.match(state["Resource"])):
            found[name] = (match[1], [invoked(state.get("Parameters"), reach) for reach in ways[name]])
    return found


def invoked(parameters: dict[str, Any] | None, reach: Reach) -> TaskInput:
    if parameters is None:
        return TaskInput(reach.keys, reach.exact)
    keys, whole = set(), {}
    for name, value in parameters.items():
        key = name.removesuffix(".$")
        if not name.endswith(".$") or value.startswith(("$$.", "States.")):
            keys.add(key)
        elif value == "$":
            keys.add(key)
            whole[key] = reach
        elif value.removeprefix("$.").split(".")[0] in reach.keys:
            keys.add(key)
    return TaskInput(frozenset(keys), exact=True, whole_state=whole)


def problems(step: str, model: type[BaseModel], ways: list[TaskInput]) -> list[str]:
    """A required field some way in lacks; an optional one every way in has (it should be required),
    or none has (nothing gives it)."""
    found = []
    for name, info in model.model_fields.items():
        lacking = [w for w in ways if name not in w.keys]
        if info.is_required() and lacking:
            found.append(
                f"{step}: {model.__name__}.{name} is required, yet a way in has only {sorted(lacking[0].keys)}"
            )
        if not info.is_required() and not [w for w in ways if name not in w.keys or not w.exact]:
            found.append(f"{step}: {model.__name__}.{name} is optional, yet every way in has it: make it required")
        if all(name not in w.keys and w.exact for w in ways):
            found.append(f"{step}: {model.__name__}.{name} is declared, yet no way in has it")
        inner = nested_model(info.annotation)
        if inner is not None and any(name in w.whole_state for w in ways):
            states = [TaskInput(w.whole_state[name].keys, w.whole_state[name].exact) for w in ways]
            found += problems(f"{step} ({name})", inner, states)
    return found


def nested_model(annotation: Any) -> type[BaseModel] | None:
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    models_in = [a for a in options if isinstance(a, type) and issubclass(a, BaseModel)]
    return models_in[0] if len(models_in) == 1 else None


def input_model(step: str) -> type[BaseModel] | None:
    module = f"{names.HANDLERS_PACKAGE}.{names.handler_module(step)}"
    importlib.import_module(module)
    return INPUT_MODELS[module]


def asl(file: str) -> dict[str, Any]:
    return json.loads((STATEMACHINE / file).read_text())


EXECUTION_INPUT = Reach(frozenset(), exact=False)  # the caller's: keys unknown until validated


@pytest.mark.parametrize("file", WORKFLOWS)
def test_every_lambda_step_parses_its_own_input_model_not_the_whole_state(file):
    steps = {step for _, step, _ in lambda_steps(asl(file))}
    assert steps
    for step in sorted(steps):
        model = input_model(step)
        if step in VALIDATORS:
            assert model is None, f"{step} parses the execution input itself (InvalidInput), not with step()"
        elif step in WHOLE_STATE:
            assert model is WHOLE_STATE[step]
        else:
            assert model is not None, f"{step} parses no input model"
            assert model.__name__ == f"{step}Input" and getattr(WORKFLOWS[file], model.__name__) is model
            assert not issubclass(model, tuple(WHOLE_STATE.values())), f"{step} parses the all-optional state"


@pytest.mark.parametrize("file", WORKFLOWS)
def test_each_input_model_requires_exactly_the_keys_every_way_into_its_step_has(file):
    found = []
    for name, (step, ways) in task_inputs(asl(file), EXECUTION_INPUT).items():
        assert ways, f"no way into {name}"
        model = input_model(step)
        if model is not None:
            found += problems(step, model, ways)
    assert found == []


def test_the_walk_finds_the_ways_that_lack_a_key():
    """What the checks rest on, seen on the workflows' own paths."""
    setup = asl("cdc_setup.asl.json")
    ways = {name: ways for name, (_, ways) in task_inputs(setup, EXECUTION_INPUT).items()}
    # the self-managed path and the RDS path meet at ConfigureDatabase: only one has run EnsureParameterGroup
    assert {"parameter_group" in w.keys for w in ways["ConfigureDatabase"]} == {True, False}
    # ...but only the RDS path goes on to CreateAlarms, as HasRdsMetrics asks what IsDryRun asked
    assert all("parameter_group" in w.keys for w in ways["CreateAlarms"])
    states = reaches(setup, EXECUTION_INPUT)
    assert all(("$.target.self_managed", "BooleanEquals", True, False) in r.facts for r in states["CreateAlarms"])
    # a dry run goes from Preflight to ReleaseLock, never on to EnsureParameterGroup
    assert all(("$.input.dry_run", "BooleanEquals", True, False) in r.facts for r in states["EnsureParameterGroup"])
    # WaitForTarget loops back to DescribeTarget with the target it described
    assert {"target" in w.keys for w in ways["DescribeTarget"]} == {True, False}
    # ReleaseLock is reached from a failure (with the Catch's error) and from every normal way out
    assert {"error" in w.whole_state["state"].keys for w in ways["ReleaseLock"]} == {True, False}
    # only failures reach NotifyFailure; Report only the ways without one
    assert all("error" in w.keys for w in ways["NotifyFailure"])
    assert not any("error" in w.keys for w in ways["Report"])
    # a fleet member's setup ends with StartSetup's result or its Catch's error, never both
    _, members = task_inputs(asl("cdc_fleet.asl.json"), EXECUTION_INPUT)["SummarizeMember"]
    assert {frozenset(w.keys) for w in members} == {
        frozenset({"instance", "input", "result"}),
        frozenset({"instance", "input", "error"}),
    }


def test_a_required_key_one_branch_lacks_an_optional_one_always_there_and_one_never_there_are_reported():
    branching = {
        "StartAt": "Start",
        "States": {
            "Start": {"Type": "Task", "Resource": "${StartFunctionArn}", "ResultSelector": {"input.$": "$"},
                      "ResultPath": "$", "Next": "Which"},
            "Which": {"Type": "Choice", "Choices": [{"Variable": "$.input.x", "BooleanEquals": True, "Next": "Adds"}],
                      "Default": "Uses"},
            "Adds": {"Type": "Task", "Resource": "${AddsFunctionArn}", "ResultPath": "$.added", "Next": "Uses"},
            "Uses": {"Type": "Task", "Resource": "${UsesFunctionArn}", "ResultPath": "$.used", "End": True},
        },
    }  # fmt: skip

    class UsesInput(BaseModel):
        input: dict
        added: dict  # only the x branch ran Adds

    class AlwaysInput(BaseModel):
        input: dict | None = None  # always there
        used: dict | None = None  # Uses' own result: never there

    _, ways = task_inputs(branching, EXECUTION_INPUT)["Uses"]
    assert problems("Uses", UsesInput, ways) == ["Uses: UsesInput.added is required, yet a way in has only ['input']"]
    assert problems("Uses", AlwaysInput, ways) == [
        "Uses: AlwaysInput.input is optional, yet every way in has it: make it required",
        "Uses: AlwaysInput.used is declared, yet no way in has it",
    ]
