"""docs/ holds a current picture of each state machine, with a legend, and the README shows them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from scripts.diagram import LEGEND_STATES, STYLE, condition, dot_source, generate, source_digest

ROOT = Path(__file__).resolve().parents[2]
ASL_FILES = sorted((ROOT / "statemachine").glob("*.asl.json"))
CAUGHT_EDGE = re.compile(r'^\s*"[^"]+" -> "[^"]+" \[(?=.*style=dashed)(?=.*color="#ef4444").*\];$', re.M)


def all_states(states: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Every state by its node id: a Map's own states are `<Map>/<state>`."""
    found: dict[str, dict[str, Any]] = {}
    for name, spec in states.items():
        found[prefix + name] = spec
        if spec["Type"] == "Map":
            found |= all_states((spec.get("ItemProcessor") or spec["Iterator"])["States"], f"{prefix}{name}/")
    return found


def legend_of(dot: str) -> str:
    return dot.split("subgraph cluster_legend {", 1)[1]


def node_line(dot: str, node: str) -> str:
    return re.search(rf'^\s*"{re.escape(node)}" \[.*\];$', dot, re.M).group(0)  # type: ignore[union-attr]


@pytest.mark.parametrize("asl_file", ASL_FILES, ids=lambda p: p.name)
def test_the_checked_in_diagram_is_generated_from_the_current_asl(asl_file: Path):
    stem = asl_file.name.removesuffix(".asl.json")
    dot = generate(asl_file)

    assert (ROOT / "docs" / f"{stem}.dot").read_text() == dot, "the ASL changed: run `make diagram`"
    svg = (ROOT / "docs" / f"{stem}.svg").read_text()
    assert f"source sha256:{source_digest(dot)}" in svg, "docs/*.svg was not rendered from docs/*.dot: `make diagram`"
    nodes = set(re.findall(r'<g id="node\d+" class="node">\s*<title>([^<]+)</title>', svg))
    assert set(all_states(json.loads(asl_file.read_text())["States"])) <= nodes


@pytest.mark.parametrize("asl_file", ASL_FILES, ids=lambda p: p.name)
def test_each_diagram_has_a_legend_of_what_it_draws_each_kind_drawn_one_way(asl_file: Path):
    states = all_states(json.loads(asl_file.read_text())["States"])
    dot, kinds = generate(asl_file), {spec["Type"] for spec in states.values()}
    legend = legend_of(dot)

    assert 'label="Legend"' in legend
    for kind, text in LEGEND_STATES.items():
        # Given a kind of state the machine has, the legend shows it drawn as the states are; others not.
        assert (f'legend_{kind} [{STYLE[kind]}, label="{text}"];' in legend) == (kind in kinds), kind
    assert "next state" in legend
    assert ("error caught (Catch)" in legend) == any("Catch" in spec for spec in states.values())
    assert ("a choice's otherwise" in legend) == any("Default" in spec for spec in states.values())
    # No two kinds of state look alike, and no state is drawn dashed like a caught error.
    assert len(set(STYLE.values())) == len(STYLE) and not any("dashed" in style for style in STYLE.values())
    for node, spec in states.items():
        assert STYLE[spec["Type"]] in node_line(dot, node)
    catches = sum(len(spec.get("Catch", [])) for spec in states.values())
    assert len(CAUGHT_EDGE.findall(dot.split("subgraph cluster_legend", 1)[0])) == catches
    assert dot.count("dashed") == catches + ("error caught" in legend)


def test_a_map_is_a_box_of_its_own_states_that_says_what_it_iterates():
    dot = generate(ROOT / "statemachine" / "cdc_fleet.asl.json")
    cluster = dot.split('subgraph "cluster_SetupEachInstance" {', 1)[1].split("\n  }\n", 1)[0]

    assert 'label="SetupEachInstance\\nfor each of fleet.members\\nfleet.max_concurrency at a time"' in cluster
    assert STYLE["Map"] in node_line(cluster, "SetupEachInstance")
    assert '"SetupEachInstance/StartSetup" [' in cluster and '"SetupEachInstance/SummarizeMember" [' in cluster
    assert '"SetupEachInstance" -> "SetupEachInstance/StartSetup" [label="each item"];' in dot
    assert '"SetupEachInstance/SummarizeMember" -> "SetupEachInstance/done";' in dot
    # The Map's own edges leave its box, after the last item, not its header.
    assert '"SetupEachInstance/done" -> "SummarizeFleet" [ltail="cluster_SetupEachInstance"];' in dot
    caught = r'"SetupEachInstance/done" -> "FleetRejected" \[ltail="cluster_SetupEachInstance", style=dashed'
    assert re.search(caught, dot)
    assert "compound=true;" in dot


def test_every_transition_of_the_asl_is_an_edge():
    asl = {"StartAt": "A", "States": {
        "A": {"Type": "Task", "Next": "B", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}]},
        "B": {"Type": "Choice", "Choices": [{"Variable": "$.input.dry_run", "BooleanEquals": True, "Next": "C"}],
              "Default": "W"},
        "W": {"Type": "Wait", "SecondsPath": "$.input.poll_seconds", "Next": "A"},
        "C": {"Type": "Task", "End": True, "Catch": [{"ErrorEquals": ["Timeout"], "Next": "F"}]},
        "F": {"Type": "Fail"},
    }}  # fmt: skip
    dot = dot_source(asl, "probe")
    assert '"A" -> "B";' in dot and '"B" -> "C" [label="dry_run"];' in dot
    assert '"B" -> "W" [label="otherwise", style=dotted];' in dot and '"C" -> "end";' in dot
    assert '"W" -> "A";' in dot and 'label="W\\nwait input.poll_seconds s"' in node_line(dot, "W")
    assert '"A" -> "F" [style=dashed, color="#ef4444"' in dot and 'start -> "A";' in dot
    assert re.search(r'"C" -> "F" \[style=dashed[^]]*label="Timeout"\]', dot)  # a named error is labelled
    assert "legend_Wait [" in legend_of(dot) and "legend_Map [" not in legend_of(dot)


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


def test_the_readme_shows_the_generated_diagrams_instead_of_hand_written_ones():
    readme = (ROOT / "README.md").read_text()
    assert "![The setup state machine](docs/cdc_setup.svg)" in readme
    assert "(docs/cdc_teardown.svg)" in readme and "(docs/cdc_fleet.svg)" in readme
    assert "```mermaid" not in readme
