"""`make help` lists every command a user runs, each with what it does."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = {"venv", "venv-local", "cdk", "postgres"}  # prerequisites the commands run by themselves


def phony_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return {t for line in re.findall(r"^\.PHONY:(.*)$", text, flags=re.M) for t in line.split()}


def test_make_help_describes_every_command() -> None:
    listed = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    described = dict(re.findall(r"^  make (\S+)\s+(.+)$", listed, flags=re.M))
    assert set(described) == phony_targets() - BOOTSTRAP
    assert all(text.strip() for text in described.values())
    assert described["demo"].startswith("the main job")


def test_the_readme_names_the_node_releases_the_makefile_treats_as_supported() -> None:
    [supported] = re.findall(r"^SUPPORTED_NODE := (.+)$", (ROOT / "Makefile").read_text(), flags=re.M)
    [named] = re.findall(r"Node\.js (\d+(?: or \d+)*) and npm", (ROOT / "README.md").read_text())
    assert named.split(" or ") == supported.split()
