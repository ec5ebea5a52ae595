"""Draw each state machine from its ASL file: docs/<name>.dot (Graphviz source) and docs/<name>.svg.

`make diagram` runs it; tests/unit/test_diagram.py checks the checked-in files are current.
The source's sha256 is written into the SVG (a graph comment), so that check needs no `dot`."""

from __future__ import annotations

import hashlib
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
    "Wait": 'shape=box, style="rounded,dashed"',
    "Pass": 'shape=box, style="rounded"',
    "Fail": 'shape=octagon, style=filled, fillcolor="#fecaca"',
    "Succeed": 'shape=box, style="rounded,filled", fillcolor="#bbf7d0"',
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
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot_source(asl: dict[str, Any], name: str) -> str:
    """Graphviz source; stable for a given ASL, so it can be compared as text."""
    lines = [
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
        '  start [shape=circle, label="", width=0.2, style=filled, fillcolor=black];',
        '  end [shape=doublecircle, label="", width=0.15, style=filled, fillcolor=black];',
        f"  start -> {quote(asl['StartAt'])};",
    ]
    edges: list[str] = []
    for state, spec in asl["States"].items():
        lines.append(f"  {quote(state)} [{STYLE.get(spec['Type'], 'shape=box')}];")
        for rule in spec.get("Choices", []):
            edges.append(f"  {quote(state)} -> {quote(rule['Next'])} [label={quote(condition(rule))}];")
        if "Default" in spec:
            edges.append(f'  {quote(state)} -> {quote(spec["Default"])} [label="otherwise", style=dotted];')
        if "Next" in spec:
            edges.append(f"  {quote(state)} -> {quote(spec['Next'])};")
        if spec.get("End") or spec["Type"] == "Succeed":
            edges.append(f"  {quote(state)} -> end;")
        for catch in spec.get("Catch", []):
            # Error paths drawn light and left out of the layout: the main flow reads top-down.
            edges.append(f"  {quote(state)} -> {quote(catch['Next'])} [style=dashed, color=gray75, constraint=false];")
    body = "\n".join(lines + edges)
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
