"""PipBundling: the Lambda asset is built locally, without Docker."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_

from infra import bundling
from infra.bundling import ASSET_CA_BUNDLE, PipBundling, lambda_code
from scripts.lock import ROOT, RUNTIME_LOCK
from tests.certs import ca_pem


@pytest.fixture(autouse=True)
def dependency_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own dependency cache: a stubbed pip must never fill the repo's .cache/."""
    cache = tmp_path / "dependency-cache"
    monkeypatch.setenv(bundling.CACHE_ENV, str(cache))
    return cache


@pytest.fixture
def pip_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """pip stubbed out: each call is recorded and installs pg8000 and botocore (runtime-provided) as pip would."""
    calls: list[list[str]] = []

    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        target = Path(_option(cmd, "--target"))
        _installed(target, "pg8000", "1.31.6", {"pg8000/__init__.py": "# pg8000\n", "pg8000/core.py": "# core\n"})
        _installed(target, "botocore", "1.41.5", {"botocore/__init__.py": ""})
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(bundling.subprocess, "run", run)
    return calls


@pytest.fixture
def ca_bundle(tmp_path: Path) -> Path:
    """A PEM file for the context's rds_ca_bundle (tests/infra/test_ca_bundle.py checks the npm one)."""
    bundle = tmp_path / "rds-ca-bundle.pem"
    bundle.write_bytes(ca_pem("Amazon RDS test Root CA RSA2048 G1") + ca_pem("Amazon RDS test Root CA ECC384 G1"))
    return bundle


def _option(cmd: list[str], name: str) -> str:
    [value] = [arg.split("=", 1)[1] for arg in cmd if arg.startswith(f"{name}=")]
    return value


def make_package(root: Path, requirements: str = "pg8000==1.31.6\n") -> Path:
    """A package with a handler, a stale __pycache__ and requirements."""
    source = root / "lambdas"
    (source / "handlers" / "__pycache__").mkdir(parents=True)
    (source / "__init__.py").write_text("")
    (source / "handlers" / "report.py").write_text("def handler(event, context): ...\n")
    (source / "handlers" / "__pycache__" / "report.cpython-311.pyc").write_bytes(b"")
    (source / "requirements.txt").write_text(requirements)
    return source


def bundle(source: Path, out: Path, *, python_version: str = "3.12", platform: str = "manylinux2014_aarch64") -> Path:
    out.mkdir()
    bundling_ = PipBundling(source_dir=source, python_version=python_version, platform=platform)
    bundling_.build(out)
    return out


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_bundling_copies_the_package_and_installs_its_requirements_for_lambda(
    tmp_path: Path, pip_calls: list[list[str]], dependency_cache: Path
) -> None:
    # Given a package with a handler, a stale __pycache__ and requirements
    source = make_package(tmp_path)

    # When
    out = bundle(source, tmp_path / "asset")

    # Then the package sits at the asset root, without bytecode, beside what pip installed for Lambda
    assert (out / "lambdas" / "handlers" / "report.py").is_file()
    assert not list(out.rglob("__pycache__"))
    assert (out / "pg8000" / "core.py").is_file() and (out / "pg8000-1.31.6.dist-info" / "RECORD").is_file()
    [cmd] = pip_calls
    assert _option(cmd, "--requirement") == str(source / "requirements.txt")
    assert Path(_option(cmd, "--target")).parent == dependency_cache
    assert _option(cmd, "--platform") == "manylinux2014_aarch64"
    assert _option(cmd, "--python-version") == "3.12"
    assert _option(cmd, "--implementation") == "cp"
    assert "--only-binary=:all:" in cmd
    assert "--no-compile" in cmd
    assert "--require-hashes" in cmd  # exactly the locked files


def test_the_asset_installs_the_runtime_lock() -> None:
    assert bundling.LAMBDAS_DIR / "requirements.txt" == ROOT / RUNTIME_LOCK


def test_a_cache_miss_runs_pip_and_keeps_the_installed_tree_without_the_runtime_provided_packages(
    tmp_path: Path, pip_calls: list[list[str]], dependency_cache: Path
) -> None:
    # Given an empty dependency cache
    source = make_package(tmp_path)

    # When
    out = bundle(source, tmp_path / "asset")

    # Then pip ran once, and the cache holds one complete key directory (no staging left), botocore removed
    assert len(pip_calls) == 1
    [key_dir] = dependency_cache.iterdir()
    assert not key_dir.name.startswith("tmp-")
    assert sorted(files(key_dir)) == [
        "pg8000-1.31.6.dist-info/METADATA",
        "pg8000-1.31.6.dist-info/RECORD",
        "pg8000/__init__.py",
        "pg8000/core.py",
    ]
    assert not (out / "botocore").exists() and not list(out.glob("botocore-*.dist-info"))


def test_a_second_bundle_with_the_same_requirements_copies_the_cache_instead_of_running_pip(
    tmp_path: Path, pip_calls: list[list[str]]
) -> None:
    # Given a first bundle, then a change to the package's code (what makes CDK bundle again)
    source = make_package(tmp_path)
    first = bundle(source, tmp_path / "first")
    (source / "handlers" / "report.py").write_text("def handler(event, context): return 'changed'\n")

    # When
    second = bundle(source, tmp_path / "second")

    # Then pip did not run again: the same files, bar the package itself, which is copied fresh
    assert len(pip_calls) == 1
    assert files(second).keys() == files(first).keys()
    changed = {path for path in files(first) if files(first)[path] != files(second)[path]}
    assert changed == {"lambdas/handlers/report.py"}
    assert "return 'changed'" in (second / "lambdas" / "handlers" / "report.py").read_text()


@pytest.mark.parametrize(
    "change",
    [
        {"requirements": "pg8000==1.31.5\n"},
        {"python_version": "3.13"},
        {"platform": "manylinux2014_x86_64"},
    ],
    ids=["requirements", "python-version", "platform"],
)
def test_a_change_to_what_decides_the_wheels_is_a_cache_miss(
    tmp_path: Path, pip_calls: list[list[str]], dependency_cache: Path, change: dict[str, str]
) -> None:
    # Given a first bundle that filled the cache
    source = make_package(tmp_path)
    bundle(source, tmp_path / "first")

    # When the requirements, the runtime's Python or the architecture change
    if "requirements" in change:
        (source / "requirements.txt").write_text(change["requirements"])
    bundle(source, tmp_path / "second", **{k: v for k, v in change.items() if k != "requirements"})

    # Then pip runs again, into a second key
    assert len(pip_calls) == 2
    assert _option(pip_calls[1], "--platform") == change.get("platform", "manylinux2014_aarch64")
    assert len(list(dependency_cache.iterdir())) == 2


def test_a_failed_pip_leaves_no_cache_entry(
    tmp_path: Path, dependency_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given pip failing
    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        raise subprocess.CalledProcessError(1, cmd)

    monkeypatch.setattr(bundling.subprocess, "run", run)

    # When / Then the synth fails, and nothing is left in the cache
    with pytest.raises(subprocess.CalledProcessError):
        bundle(make_package(tmp_path), tmp_path / "asset")
    assert list(dependency_cache.iterdir()) == []


def test_a_half_filled_tree_left_by_a_crashed_run_is_not_a_cache_hit(
    tmp_path: Path, pip_calls: list[list[str]], dependency_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run killed while pip was installing: part of the files written, no clean-up
    source = make_package(tmp_path)

    def crash(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        _installed(Path(_option(cmd, "--target")), "pg8000", "1.31.6", {"pg8000/__init__.py": ""})
        raise KeyboardInterrupt

    with monkeypatch.context() as crashing:
        crashing.setattr(bundling.subprocess, "run", crash)
        crashing.setattr(bundling.shutil, "rmtree", lambda *args, **kwargs: None)
        with pytest.raises(KeyboardInterrupt):
            bundle(source, tmp_path / "crashed")
    [leftover] = dependency_cache.iterdir()

    # When the next synth bundles
    out = bundle(source, tmp_path / "asset")

    # Then pip ran, and the asset holds the complete tree
    assert len(pip_calls) == 1
    assert (out / "pg8000" / "core.py").is_file()
    assert Path(_option(pip_calls[0], "--target")) != leftover


def test_a_synth_that_loses_the_race_for_a_key_uses_the_winners_tree(
    tmp_path: Path, dependency_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given another synth that fills the same key while this one's pip is running
    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        target = Path(_option(cmd, "--target"))
        _installed(target, "pg8000", "1.31.6", {"pg8000/__init__.py": "# ours\n"})
        key = target.name.removeprefix("tmp-").split("-")[0]
        _installed(dependency_cache / key, "pg8000", "1.31.6", {"pg8000/__init__.py": "# theirs\n"})
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(bundling.subprocess, "run", run)

    # When
    out = bundle(make_package(tmp_path), tmp_path / "asset")

    # Then the asset has the winner's tree, and this synth's staging directory is gone
    assert (out / "pg8000" / "__init__.py").read_text() == "# theirs\n"
    assert [p.name.startswith("tmp-") for p in dependency_cache.iterdir()] == [False]


def locked(*names: str) -> str:
    """These packages' entries, with their hashes, from the runtime lock."""
    entries = re.split(r"\n(?=\S)", (ROOT / RUNTIME_LOCK).read_text())
    return "".join(entry + "\n" for entry in entries if entry.split("==")[0] in names)


def test_the_real_pip_fills_the_cache_and_a_hit_never_calls_pip(
    tmp_path: Path, dependency_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given small locked requirements, one of them runtime-provided (jmespath), and the real pip
    source = make_package(tmp_path, requirements=locked("six", "jmespath"))

    # When bundled twice, the second time with a Python that does not exist (pip cannot run)
    first = bundle(source, tmp_path / "first")
    monkeypatch.setattr(bundling.sys, "executable", str(tmp_path / "no-python"))
    second = bundle(source, tmp_path / "second")

    # Then pip installed six for Lambda, jmespath was left out, and the hit gave the same files
    assert (first / "six.py").is_file() and list(first.glob("six-*.dist-info"))
    assert not (first / "jmespath").exists() and not list(first.glob("jmespath-*.dist-info"))
    assert files(second) == files(first)
    assert len([p for p in dependency_cache.iterdir() if not p.name.startswith("tmp-")]) == 1


def test_the_real_pip_refuses_requirements_without_hashes(tmp_path: Path, dependency_cache: Path) -> None:
    # Given requirements without hashes (pip checks hashes unasked only when some entry has one)
    source = make_package(tmp_path, requirements="six==1.17.0\n")

    # When / Then pip refuses to install anything, and nothing is cached
    with pytest.raises(subprocess.CalledProcessError):
        bundle(source, tmp_path / "asset")
    assert [p for p in dependency_cache.iterdir() if not p.name.startswith("tmp-")] == []


@pytest.mark.infra
def test_cdk_bundles_the_real_package_through_jsii(tmp_path: Path, pip_calls: list[list[str]], ca_bundle: Path) -> None:
    # Given bundling enabled (the default), an RDS CA bundle in the context and pip stubbed out
    app = App(outdir=str(tmp_path), context={"rds_ca_bundle": str(ca_bundle)})
    stack = Stack(app, "Bundled")
    lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_12,
        architecture=lambda_.Architecture.ARM_64,
        handler="lambdas.handlers.report.handler",
        code=lambda_code(stack, runtime=lambda_.Runtime.PYTHON_3_12, architecture=lambda_.Architecture.ARM_64),
    )

    # When
    app.synth()

    # Then CDK called try_bundle, the wheels match the runtime and architecture, the bundle is in the asset
    [asset] = tmp_path.glob("asset.*")
    assert (asset / "lambdas" / "handlers" / "report.py").is_file()
    assert (asset / ASSET_CA_BUNDLE).read_bytes() == ca_bundle.read_bytes()
    [cmd] = pip_calls
    assert (_option(cmd, "--platform"), _option(cmd, "--python-version")) == ("manylinux2014_aarch64", "3.12")


@pytest.mark.infra
def test_a_failed_build_leaves_no_staging_directory_in_cdk_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ca_bundle: Path
) -> None:
    # Given bundling enabled and pip failing half-way, after the package was copied into CDK's staging directory
    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        raise subprocess.CalledProcessError(1, cmd)

    monkeypatch.setattr(bundling.subprocess, "run", run)
    out = tmp_path / "cdk.out"
    app = App(outdir=str(out), context={"rds_ca_bundle": str(ca_bundle)})
    stack = Stack(app, "Bundled")

    # When the synth fails (CDK bundles as the function is made)
    with pytest.raises(RuntimeError, match=r"Failed to bundle asset .*-building: .*returned non-zero exit status 1"):
        lambda_.Function(
            stack,
            "Fn",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="lambdas.handlers.report.handler",
            code=lambda_code(stack, runtime=lambda_.Runtime.PYTHON_3_12, architecture=lambda_.Architecture.ARM_64),
        )

    # Then CDK's asset.<hash>-building, which CDK keeps for a failed bundling, is gone with what it held
    assert list(out.glob("asset.*")) == []


def _installed(target: Path, dist: str, version: str, files: dict[str, str]) -> None:
    """What pip --target leaves: the files, and a dist-info whose RECORD lists them."""
    info = target / f"{dist}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Name: {dist}\nVersion: {version}\n")
    for path, text in files.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_text(text)
    listed = [*files, f"{info.name}/METADATA", f"{info.name}/RECORD"]
    (info / "RECORD").write_text("".join(f"{p},,\n" for p in listed))


def test_the_packages_the_lambda_runtime_ships_are_left_out_of_the_asset_file_by_file(tmp_path: Path) -> None:
    # Given botocore and python-dateutil (runtime-provided) installed beside pg8000, sharing bin/
    _installed(tmp_path, "botocore", "1.41.5", {"botocore/__init__.py": "", "botocore/data/rds/service.json": "{}"})
    _installed(tmp_path, "python_dateutil", "2.9.0", {"dateutil/tz/tz.py": "", "bin/dateutil-tool": ""})
    _installed(tmp_path, "pg8000", "1.31.6", {"pg8000/__init__.py": "", "bin/pg8000-tool": ""})

    # When
    removed = bundling.remove_distributions(tmp_path, bundling.RUNTIME_PROVIDED)

    # Then their files, emptied directories and dist-info are gone; pg8000 and the shared bin/ stay
    assert sorted(removed) == ["botocore", "python-dateutil"]
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        "bin/pg8000-tool",
        "pg8000-1.31.6.dist-info/METADATA",
        "pg8000-1.31.6.dist-info/RECORD",
        "pg8000/__init__.py",
    ]
    assert not (tmp_path / "botocore").exists() and not (tmp_path / "dateutil").exists()
