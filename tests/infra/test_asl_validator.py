"""`make asl` (part of `make test`): asl-validator, from npm, on every definition in statemachine/.

A validator that checks nothing passes quietly (given no file, asl-validator exits 0), so these tests
run the Makefile's own command: on the real definitions it must name each one valid, and on broken
copies it must fail, naming each and what is wrong. Needs the npm tools (`make cdk`), hence `infra`.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambdas.shared.steps import Workflow

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
STATEMACHINE = ROOT / "statemachine"


def make_asl(*files: Path) -> subprocess.CompletedProcess[str]:
    """`make asl`, on the given files instead of statemachine/*.asl.json when any are given."""
    override = [f"ASL_FILES={' '.join(map(str, files))}"] if files else []
    return subprocess.run(["make", "-s", "asl", *override], cwd=ROOT, capture_output=True, text=True, timeout=60)


def valid(output: str) -> set[str]:
    return set(re.findall(r'State machine definition "([^"]+)" is valid', output))


def test_make_asl_validates_every_definition_in_statemachine() -> None:
    done = make_asl()
    assert done.returncode == 0, done.stderr
    assert valid(done.stdout) == {f"statemachine/{w.value}" for w in Workflow}
    assert {p.name for p in STATEMACHINE.glob("*.asl.json")} == {w.value for w in Workflow}


def first_state(definition: dict[str, Any], type_: str, key: str | None = None) -> dict[str, Any]:
    return next(s for s in definition["States"].values() if s["Type"] == type_ and (key is None or key in s))


def drop_start_at(d: dict[str, Any]) -> None:
    del d["StartAt"]


def next_to_nowhere(d: dict[str, Any]) -> None:
    first_state(d, "Task", "Next")["Next"] = "NoSuchState"


def broken_placeholder(d: dict[str, Any]) -> None:
    task = first_state(d, "Task")
    task["Resource"] = task["Resource"].rstrip("}")  # ${ReadTriggerTagsFunctionArn


def bare_result_path(d: dict[str, Any]) -> None:
    first_state(d, "Task")["ResultPath"] = "trigger"  # not a path: no $.


def unknown_field(d: dict[str, Any]) -> None:
    first_state(d, "Task")["Retries"] = []  # Retry misspelt


def malformed_arn(d: dict[str, Any]) -> None:
    """The fleet's one literal ARN (its Map starts each setup execution) loses its empty account field."""
    [task] = [
        s
        for m in d["States"].values()
        if m["Type"] == "Map"
        for s in m["ItemProcessor"]["States"].values()
        if s.get("Resource", "").startswith("arn:")
    ]
    task["Resource"] = task["Resource"].replace("arn:aws:states:::", "arn:aws:states::")


# name: (the definition broken, how, what the validator says)
BREAKAGES: dict[str, tuple[Workflow, Callable[[dict[str, Any]], None], str]] = {
    "no-start-at": (Workflow.SETUP, drop_start_at, "must have required property 'StartAt'"),
    "next-to-nowhere": (Workflow.SETUP, next_to_nowhere, "Missing 'StartAt'|'Next'|'Default' target: NoSuchState"),
    "broken-placeholder": (Workflow.SETUP, broken_placeholder, "Resource is invalid"),
    "bare-result-path": (Workflow.SETUP, bare_result_path, "ResultPath is invalid"),
    "unknown-field": (Workflow.SETUP, unknown_field, "SCHEMA_VALIDATION_FAILED"),
    "malformed-arn": (Workflow.FLEET, malformed_arn, "StartSetup/Resource is invalid"),
}


def test_make_asl_fails_on_each_broken_definition_even_when_valid_ones_follow(tmp_path: Path) -> None:
    # Given broken copies of the definitions, then two real ones after them
    broken = []
    for name, (workflow, breakage, _) in BREAKAGES.items():
        definition = json.loads((STATEMACHINE / workflow.value).read_text())
        breakage(definition)
        broken.append(tmp_path / f"{name}.asl.json")
        broken[-1].write_text(json.dumps(definition))
    good = [STATEMACHINE / Workflow.FLEET.value, STATEMACHINE / Workflow.TEARDOWN.value]

    # When
    done = make_asl(*broken, *good)

    # Then make fails, each broken copy is reported with what is wrong, and the real ones pass
    assert done.returncode != 0
    reports = dict(re.findall(r'definition "([^"]+)" is invalid:\n(.*?)(?=\n✕|\Z)', done.stderr, flags=re.S))
    for path, (*_, complaint) in zip(broken, BREAKAGES.values(), strict=True):
        assert complaint in reports[str(path)], (path.name, reports.get(str(path)))
    assert valid(done.stdout) == {str(p) for p in good}
