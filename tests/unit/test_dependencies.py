"""The dependency locks (scripts/lock.py, `make lock`): current, complete with hashes, and in agreement."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.lock import LOCAL_LOCK, ROOT, RUNTIME_LOCK, UNITS, Unit, digest, inputs, pins, recorded_digest

LOCKS = {unit.lock: unit for unit in UNITS}


def lock_text(path: str) -> str:
    return (ROOT / path).read_text()


def requirement_blocks(text: str) -> list[str]:
    """Each requirement of a lock with its continuation lines (hashes), comments dropped."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [block.strip() for block in re.split(r"\n(?=\S)", "\n".join(lines))]


@pytest.mark.parametrize("unit", UNITS, ids=[unit.lock for unit in UNITS])
def test_every_lock_was_regenerated_after_its_inputs_changed(unit: Unit) -> None:
    assert recorded_digest(lock_text(unit.lock)) == digest(unit), f"{unit.source} changed: run `make lock`"


def test_a_change_to_the_input_an_included_file_or_the_lock_it_is_within_makes_a_lock_stale(tmp_path: Path) -> None:
    # Given a copy of the requirement files, whose digest matches the committed dev lock
    for path in {path for unit in UNITS for path in inputs(unit)}:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    dev = LOCKS["requirements-dev.txt"]
    digests = [digest(dev, tmp_path)]
    assert digests == [recorded_digest(lock_text(dev.lock))]

    # When the dev input, a file it includes (-r) and the lock it is resolved within change in turn
    for path, old, new in [
        ("requirements-dev.in", "pytest==", "pytest>="),
        ("requirements-cli.in", "rich==", "rich>="),
        (LOCAL_LOCK, "moto==", "moto>="),
    ]:
        (tmp_path / path).write_text((tmp_path / path).read_text().replace(old, new))
        digests.append(digest(dev, tmp_path))

    # Then each change is a new digest: the lock is stale
    assert len(set(digests)) == 4


@pytest.mark.parametrize("unit", UNITS, ids=[unit.lock for unit in UNITS])
def test_every_locked_package_is_pinned_with_hashes(unit: Unit) -> None:
    blocks = requirement_blocks(lock_text(unit.lock))
    assert len(blocks) >= 10
    for block in blocks:
        assert re.match(r"[A-Za-z0-9._-]+==\S+", block), block
        assert "--hash=sha256:" in block, block


@pytest.mark.parametrize(
    ("lock", "within"),
    [
        ("requirements-dev.txt", RUNTIME_LOCK),
        ("requirements-dev.txt", LOCAL_LOCK),
        ("requirements.txt", RUNTIME_LOCK),
        ("requirements-cli.txt", RUNTIME_LOCK),
        (LOCAL_LOCK, RUNTIME_LOCK),
    ],
)
def test_a_package_shared_with_the_lock_it_is_resolved_within_has_its_version(lock: str, within: str) -> None:
    # so the tests run what Lambda gets, and the demo's install is part of the dev one
    ours, theirs = pins(lock_text(lock)), pins(lock_text(within))
    shared = ours.keys() & theirs.keys()
    assert {"python-dateutil", "six"} <= shared  # (botocore's) so the comparison below is not vacuous
    assert {name: ours[name] for name in shared} == {name: theirs[name] for name in shared}


def test_the_dev_lock_holds_every_package_of_the_local_and_runtime_locks() -> None:
    dev = pins(lock_text("requirements-dev.txt"))
    for lock in (RUNTIME_LOCK, LOCAL_LOCK, "requirements.txt", "requirements-cli.txt"):
        assert pins(lock_text(lock)).keys() <= dev.keys(), lock


def test_the_cdk_app_does_not_install_the_lambda_runtime_packages() -> None:
    cdk_input = lock_text("requirements.in")
    assert not re.search(r"^\s*-r", cdk_input, flags=re.MULTILINE)
    cdk = pins(lock_text("requirements.txt"))
    assert {"aws-cdk-lib", "pydantic"} <= cdk.keys()  # pydantic: infra imports lambdas/shared/settings.py
    assert not {"pg8000", "aws-lambda-powertools", "boto3"} & cdk.keys()


def test_boto3_is_pinned_once() -> None:
    requirement_inputs = sorted({path for unit in UNITS for path in inputs(unit) if path.endswith(".in")})
    assert len(requirement_inputs) == 5
    pinned = [path for path in requirement_inputs if re.search(r"^boto3\s*==", lock_text(path), flags=re.MULTILINE)]
    assert pinned == ["lambdas/requirements.in"]


# botocore imports certifi when it is installed, else uses its own CA bundle (botocore/httpsession.py).
IMPORTED_IF_PRESENT = {"certifi"}


@pytest.mark.parametrize(
    ("lock", "entry"),
    [("requirements-cli.txt", "cli.app"), (LOCAL_LOCK, "local.demo"), (RUNTIME_LOCK, "lambdas.handlers.verify")],
)
def test_what_a_unit_imports_is_in_its_lock(lock: str, entry: str) -> None:
    """The CLI's lock lost pydantic when typer stopped needing it, while the CLI began to import the
    workflow's models: a fresh interpreter imports the unit's entry and names every distribution it loaded."""
    probe = (
        "import importlib, sys, importlib.metadata as md; before = set(sys.modules); "
        f"importlib.import_module({entry!r}); "
        "tops = {m.split('.')[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names); "
        "owners = md.packages_distributions(); "
        "print(' '.join(sorted({d for t in tops for d in owners.get(t, [])})))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    normalized = {re.sub(r"[-_.]+", "-", name).lower() for name in loaded.stdout.split()}
    locked = set(pins(lock_text(lock)))
    assert normalized - locked - IMPORTED_IF_PRESENT == set(), f"{entry} imports packages missing from {lock}"
