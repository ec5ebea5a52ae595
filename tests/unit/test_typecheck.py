"""[tool.mypy] (`make typecheck`): mypy reads exactly the aws_cdk service modules the code imports."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def mypy_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]


def checked_files() -> list[Path]:
    found: list[Path] = []
    for entry in mypy_config()["files"]:
        path = ROOT / entry
        found.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return found


def aws_cdk_modules_imported(source: str) -> set[str]:
    """`from aws_cdk import aws_iam as iam`, `import aws_cdk.aws_iam`, `from aws_cdk.aws_iam import Role`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "aws_cdk":
            found |= {f"aws_cdk.{alias.name}" for alias in node.names if alias.name.islower()}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aws_cdk."):
            found.add(".".join(node.module.split(".")[:2]))
        elif isinstance(node, ast.Import):
            found |= {".".join(a.name.split(".")[:2]) for a in node.names if a.name.startswith("aws_cdk.")}
    return found


def test_the_aws_cdk_modules_read_are_the_ones_imported() -> None:
    # mypy skips every other aws_cdk module (a cold run: 80 s with all ~300, ~20 s with ours), so a
    # module used but not listed would be Any, unchecked, and one listed but unused only costs time
    overrides = mypy_config()["overrides"]
    skipped = [o for o in overrides if o["module"] == ["aws_cdk.*"]]
    assert [o["follow_imports"] for o in skipped] == ["skip"]
    read = {m for o in overrides if o.get("follow_imports") == "normal" for m in o["module"]}
    imported = {m for path in checked_files() for m in aws_cdk_modules_imported(path.read_text())}
    assert "aws_cdk.aws_stepfunctions" in imported
    assert read == imported | {"aws_cdk"}


def test_the_import_scan_sees_every_form_of_import() -> None:
    source = "from aws_cdk import Stack, aws_iam as iam\nimport aws_cdk.aws_kms\nfrom aws_cdk.aws_sns import Topic\n"
    assert aws_cdk_modules_imported(source) == {"aws_cdk.aws_iam", "aws_cdk.aws_kms", "aws_cdk.aws_sns"}
