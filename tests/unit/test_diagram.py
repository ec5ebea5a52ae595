"""docs/ holds a current picture of each state machine, and the README shows the setup one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scripts.diagram import condition, dot_source, generate, source_digest

ROOT = Path(__file__).resolve().parents[2]
ASL_FILES = sorted((ROOT / "statemachine").glob("*.asl.json"))


@pytest.mark.parametrize("asl_file", ASL_FILES, ids=lambda p: p.name)
def test_the_checked_in_diagram_is_generated_from_the_current_asl(asl_file: Path):
    stem = asl_file.name.removesuffix(".asl.json")
    dot = generate(asl_file)

    assert (ROOT / "docs" / f"{stem}.dot").read_text() == dot, "the ASL changed: run `make diagram`"
    svg = (ROOT / "docs" / f"{stem}.svg").read_text()
    assert f"source sha256:{source_digest(dot)}" in svg, "docs/*.svg was not rendered from docs/*.dot: `make diagram`"
    nodes = set(re.findall(r'<g id="node\d+" class="node">\s*<title>([^<]+)</title>', svg))
    assert set(json.loads(asl_file.read_text())["States"]) <= nodes


def test_every_transition_of_the_asl_is_an_edge():
    asl = {"StartAt": "A", "States": {
        "A": {"Type": "Task", "Next": "B", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}]},
        "B": {"Type": "Choice", "Choices": [{"Variable": "$.input.dry_run", "BooleanEquals": True, "Next": "C"}],
              "Default": "A"},
        "C": {"Type": "Task", "End": True},
        "F": {"Type": "Fail"},
    }}  # fmt: skip
    dot = dot_source(asl, "probe")
    assert '"A" -> "B";' in dot and '"B" -> "C" [label="dry_run"];' in dot
    assert '"B" -> "A" [label="otherwise", style=dotted];' in dot and '"C" -> end;' in dot
    assert '"A" -> "F" [style=dashed' in dot and 'start -> "A";' in dot


@pytest.mark.parametrize(
    ("rule", "label"),
    [
        ({"Variable": "$.input.reboot", "StringEquals": "never"}, "reboot = never"),
        ({"Variable": "$.reboot_status.ready", "BooleanEquals": False}, "not ready"),
        ({"Variable": "$.attempt", "NumericGreaterThanEquals": 3}, "attempt >= 3"),
        ({"And": [{"Variable": "$.a", "IsPresent": True}, {"Not": {"Variable": "$.b", "BooleanEquals": True}}]},
         "a present and not b"),
    ],
)  # fmt: skip
def test_choice_rules_read_as_short_conditions(rule, label):
    assert condition(rule) == label


def test_the_readme_shows_the_generated_setup_diagram_instead_of_a_hand_written_one():
    readme = (ROOT / "README.md").read_text()
    assert "![The setup state machine](docs/cdc_setup.svg)" in readme
    assert "```mermaid" not in readme
