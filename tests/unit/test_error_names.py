"""Error names: what the ASL retries or catches exists, and every named error is raised and explained."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.shared import errors

ROOT = Path(__file__).resolve().parents[2]
ASL_FILES = sorted((ROOT / "statemachine").glob("*.asl.json"))
NAMED = {
    name
    for name, value in vars(errors).items()
    if inspect.isclass(value) and issubclass(value, errors.WorkflowError) and value is not errors.WorkflowError
}
# Names Step Functions and Lambda give failures themselves.
BUILT_IN = re.compile(r"States\.\w+|Lambda\.\w+")


def error_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from value if key == "ErrorEquals" else error_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from error_names(item)


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda p: p.name)
def test_every_error_a_retry_or_catch_names_exists(asl: Path) -> None:
    names = set(error_names(json.loads(asl.read_text())))
    assert names, asl.name
    assert {name for name in names if not BUILT_IN.fullmatch(name)} <= NAMED


def test_the_finder_reads_nested_retries_and_catches() -> None:
    definition = {
        "States": {
            "A": {
                "Retry": [{"ErrorEquals": ["X"]}],
                "ItemProcessor": {"States": {"B": {"Catch": [{"ErrorEquals": ["States.ALL", "Y"]}]}}},
            }
        }
    }
    assert sorted(error_names(definition)) == ["States.ALL", "X", "Y"]


@pytest.mark.parametrize("name", sorted(NAMED))
def test_every_named_error_is_raised_and_explained_in_troubleshooting(name: str) -> None:
    sources = [p for p in (ROOT / "lambdas").rglob("*.py") if p.name != "errors.py"]
    assert any(re.search(rf"\b{name}\(", p.read_text()) for p in sources), f"{name} is never raised"
    readme = (ROOT / "README.md").read_text()
    troubleshooting = readme[readme.index("## Troubleshooting") :]
    assert f"`{name}`" in troubleshooting, f"README Troubleshooting: say what {name} means and what to do"
