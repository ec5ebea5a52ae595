"""Draw each state machine from its ASL file: docs/<name>.dot (Graphviz source) and docs/<name>.svg.

`make diagram` runs it; tests/unit/test_diagram.py checks the checked-in files are current.
The source's sha256 is written into the SVG (a graph comment), so that check needs no `dot`.
Each diagram carries a legend of the state kinds and edge kinds it draws."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ASL_DIR, DOCS = ROOT / "statemachine", ROOT / "docs"
STYLE = {
    "Task": 'shape=box, style="rounded,filled", fillcolor="#dbeafe"',
    "Choice": 'shape=diamond, style=filled, fillcolor="#fef3c7"',
    "Wait": 'shape=hexagon, style=filled, fillcolor="#e5e7eb"',
    "Pass": 'shape=box, style="rounded"',
    "Map": 'shape=box3d, style=filled, fillcolor="#e0e7ff"',
    "Fail": 'shape=octagon, style=filled, fillcolor="#fecaca"',
    "Succeed": 'shape=box, style="rounded,filled", fillcolor="#bbf7d0"',
}
# The kinds of edge, each drawn one way only: a Catch is red and dashed, a Choice's Default dotted.
CAUGHT = 'style=dashed, color="#ef4444", fontcolor="#ef4444", constraint=false'
OTHERWISE = "style=dotted"
MAP_CLUSTER = 'style="rounded,filled"; color="#6366f1"; fillcolor="#eef2ff"'
LEGEND_STATES = {  # what a reader sees in the legend, in the order it lists them
    "Task": "task (a Lambda, or a service call)",
    "Choice": "choice",
    "Wait": "wait",
    "Pass": "pass (reshapes the state)",
    "Map": "map (its box runs once per item)",
    "Succeed": "success",
    "Fail": "failure",
}
OPERATORS = {"Equals": "=", "GreaterThan": ">", "GreaterThanEquals": ">=", "LessThan": "<", "LessThanEquals": "<="}


def condition(rule: dict[str, Any]) -> str:
    """A Choice rule as a short label: `dry_run`, `reboot = never`, `not ready`."""
    if "And" in rule or "Or" in rule:
        joiner = " and " if "And" in rule else " or "
        return joiner.join(condition(r) for r in rule.get("And") or rule["Or"])
    if "Not" in rule:
        return f"not {condition(rule['Not'])}"
    name = rule.get("Variable", "?").rsplit(".", 1)[-1]
    for key, value in rule.items():
        if key in ("Variable", "Next"):
            continue
        if key == "BooleanEquals":
            return name if value else f"not {name}"
        if key == "IsPresent":
            return f"{name} present" if value else f"no {name}"
        if key in ("IsNull", "IsBoolean", "IsString", "IsNumeric", "IsTimestamp"):
            return f"{name} {key[2:].lower()}" if value else f"{name} not {key[2:].lower()}"
        suffix = max((s for s in OPERATORS if key.endswith(s)), key=len, default=None)  # GreaterThanEquals first
        operator = OPERATORS[suffix] if suffix else key
        return f"{name} {operator} {value}"
    return "?"


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def short_path(path: str) -> str:
    """`$.input.poll_seconds` -> `input.poll_seconds`."""
    return path.removeprefix("$.")


def wait_label(state: str, spec: dict[str, Any]) -> str:
    for key, unit in (("Seconds", " s"), ("Timestamp", "")):
        if key in spec:
            return f"{state}\nwait {spec[key]}{unit}"
        if f"{key}Path" in spec:
            return f"{state}\nwait {short_path(spec[f'{key}Path'])}{unit}"
    return state


def map_label(state: str, spec: dict[str, Any]) -> str:
    items = short_path(spec.get("ItemsPath", "$"))
    label = f"{state}\nfor each of {items}" if items != "$" else f"{state}\nfor each item"
    if "MaxConcurrencyPath" in spec:
        return f"{label}\n{short_path(spec['MaxConcurrencyPath'])} at a time"
    if spec.get("MaxConcurrency"):
        return f"{label}\n{spec['MaxConcurrency']} at a time"
    return label


def caught_label(catch: dict[str, Any]) -> str:
    errors = [e for e in catch.get("ErrorEquals", []) if e != "States.ALL"]
    return f", label={quote(', '.join(errors))}" if errors else ""


class Drawing:
    """The nodes, clusters and edges of one state machine; Map states become clusters of their own states."""

    def __init__(self) -> None:
        self.edges: list[str] = []
        self.kinds: set[str] = set()  # state types drawn
        self.edge_kinds: set[str] = set()  # "next", "otherwise", "caught"

    def edge(self, tail: str, head: str, attributes: str = "", kind: str = "next") -> None:
        self.edge_kinds.add(kind)
        self.edges.append(f"  {quote(tail)} -> {quote(head)}{f' [{attributes}]' if attributes else ''};")

    def states(self, states: dict[str, Any], prefix: str, exit_node: str, indent: str) -> list[str]:
        """Node lines for `states` (ids prefixed inside a Map); their edges go to self.edges.
        A state that ends its machine (or its Map iteration) leads to `exit_node`."""
        lines: list[str] = []
        for state, spec in states.items():
            node, kind = prefix + state, spec["Type"]
            self.kinds.add(kind)
            label = f", label={quote(state)}" if prefix else ""
            if kind == "Wait":
                label = f", label={quote(wait_label(state, spec))}"
            if kind == "Map":
                lines += self.map_cluster(node, state, spec, indent)
            else:
                lines.append(f"{indent}{quote(node)} [{STYLE.get(kind, 'shape=box')}{label}];")
            # A Map's own transitions leave from its box (the cluster), not from its header node.
            tail, clip = (f"{node}/done", f"ltail={quote('cluster_' + node)}") if kind == "Map" else (node, "")
            for rule in spec.get("Choices", []):
                self.edge(node, prefix + rule["Next"], f"label={quote(condition(rule))}")
            if "Default" in spec:
                self.edge(node, prefix + spec["Default"], f'label="otherwise", {OTHERWISE}', kind="otherwise")
            if "Next" in spec:
                self.edge(tail, prefix + spec["Next"], clip)
            if spec.get("End") or kind == "Succeed":
                self.edge(tail, exit_node, clip)
            for catch in spec.get("Catch", []):
                # Error paths are left out of the layout (CAUGHT has constraint=false): the main flow reads top-down.
                attributes = ", ".join(filter(None, [clip, CAUGHT])) + caught_label(catch)
                self.edge(tail, prefix + catch["Next"], attributes, kind="caught")
        return lines

    def map_cluster(self, node: str, state: str, spec: dict[str, Any], indent: str) -> list[str]:
        """A Map as a box around its iterator's states: a header node saying what it iterates over,
        the states, and a small end-of-item node from which the Map's own edges leave the box."""
        processor = spec.get("ItemProcessor") or spec.get("Iterator") or {"StartAt": None, "States": {}}
        inner = indent + "  "
        done = f"{node}/done"
        lines = [
            f"{indent}subgraph {quote('cluster_' + node)} {{",
            f"{inner}{MAP_CLUSTER};",
            f'{inner}label="";',
            f"{inner}{quote(node)} [{STYLE['Map']}, label={quote(map_label(state, spec))}];",
            f'{inner}{quote(done)} [shape=doublecircle, label="", width=0.12, style=filled, fillcolor="#6366f1"];',
        ]
        if processor["StartAt"]:
            self.edge(node, f"{node}/{processor['StartAt']}", 'label="each item"')
        lines += self.states(processor["States"], f"{node}/", done, inner)
        return [*lines, f"{indent}}}"]


def legend(kinds: set[str], edge_kinds: set[str]) -> list[str]:
    """A small box listing the state kinds and edge kinds the diagram draws, with how each is drawn."""
    lines = [
        "  subgraph cluster_legend {",
        '    label="Legend"; fontname="Helvetica"; fontsize=10; style="rounded"; color=gray60;',
        '    node [fontsize=9, margin="0.08,0.03"]; edge [fontsize=8];',
    ]
    nodes = [f"legend_{kind}" for kind in LEGEND_STATES if kind in kinds]
    for kind, text in LEGEND_STATES.items():
        if kind in kinds:
            lines.append(f"    legend_{kind} [{STYLE[kind]}, label={quote(text)}];")
    samples = [("next", "next state", ""), ("otherwise", "a choice's otherwise", OTHERWISE),
               ("caught", "error caught (Catch)", CAUGHT.replace(", constraint=false", ""))]  # fmt: skip
    for kind, text, attributes in samples:
        if kind in edge_kinds:
            tail, head = f"legend_{kind}_from", f"legend_{kind}_to"
            label = ", ".join(filter(None, [attributes, f"label={quote(text)}"]))
            lines.append(f"    {tail} [shape=point, width=0.05]; {head} [shape=point, width=0.05];")
            lines.append(f"    {{ rank=same; {tail} -> {head} [{label}]; }}")  # drawn across, as a sample
            nodes.append(tail)
    # One column, top to bottom, in the order listed.
    lines += [f"    {a} -> {b} [style=invis];" for a, b in itertools.pairwise(nodes)]
    return [*lines, "  }"]


def dot_source(asl: dict[str, Any], name: str) -> str:
    """Graphviz source; stable for a given ASL, so it can be compared as text."""
    drawing = Drawing()
    lines = [
        "  rankdir=TB;",
        "  compound=true;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
        '  start [shape=circle, label="", width=0.2, style=filled, fillcolor=black];',
        '  end [shape=doublecircle, label="", width=0.15, style=filled, fillcolor=black];',
        f"  start -> {quote(asl['StartAt'])};",
    ]
    lines += drawing.states(asl["States"], "", "end", "  ")
    body = "\n".join(lines + drawing.edges + legend(drawing.kinds, drawing.edge_kinds))
    digest = hashlib.sha256(body.encode()).hexdigest()
    return f"digraph {quote(name)} {{\n  comment={quote('source sha256:' + digest)};\n{body}\n}}\n"


def source_digest(dot: str) -> str:
    return dot.split("source sha256:", 1)[1][:64]


def generate(asl_file: Path) -> str:
    return dot_source(json.loads(asl_file.read_text()), asl_file.name.removesuffix(".asl.json"))


def main() -> int:
    DOCS.mkdir(exist_ok=True)
    for asl_file in sorted(ASL_DIR.glob("*.asl.json")):
        stem = asl_file.name.removesuffix(".asl.json")
        dot = generate(asl_file)
        (DOCS / f"{stem}.dot").write_text(dot)
        svg = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=True).stdout
        (DOCS / f"{stem}.svg").write_text(svg)
        print(f"docs/{stem}.svg  ({len(json.loads(asl_file.read_text())['States'])} states)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
