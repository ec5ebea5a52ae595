"""PipBundling: the Lambda asset is built locally, without Docker."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_

from infra import bundling
from infra.bundling import PipBundling, lambda_code


@pytest.fixture
def pip_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []

    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(bundling.subprocess, "run", run)
    return calls


def _option(cmd: list[str], name: str) -> str:
    [value] = [arg.split("=", 1)[1] for arg in cmd if arg.startswith(f"{name}=")]
    return value


def test_try_bundle_copies_the_package_and_installs_its_requirements_for_lambda(
    tmp_path: Path, pip_calls: list[list[str]]
) -> None:
    # Given a package with a handler, a stale __pycache__ and requirements
    source = tmp_path / "lambdas"
    (source / "handlers" / "__pycache__").mkdir(parents=True)
    (source / "__init__.py").write_text("")
    (source / "handlers" / "report.py").write_text("def handler(event, context): ...\n")
    (source / "handlers" / "__pycache__" / "report.cpython-311.pyc").write_bytes(b"")
    (source / "requirements.txt").write_text("pg8000==1.31.6\n")
    out = tmp_path / "asset"
    out.mkdir()

    # When
    bundled = PipBundling(source_dir=source, python_version="3.12", platform="manylinux2014_aarch64").try_bundle(
        str(out), None
    )

    # Then the package sits at the asset root, without bytecode, and pip targets the asset
    assert bundled
    assert (out / "lambdas" / "handlers" / "report.py").is_file()
    assert not list(out.rglob("__pycache__"))
    [cmd] = pip_calls
    assert _option(cmd, "--requirement") == str(source / "requirements.txt")
    assert _option(cmd, "--target") == str(out)
    assert _option(cmd, "--platform") == "manylinux2014_aarch64"
    assert _option(cmd, "--python-version") == "3.12"
    assert _option(cmd, "--implementation") == "cp"
    assert "--only-binary=:all:" in cmd


@pytest.mark.infra
def test_cdk_bundles_the_real_package_through_jsii(tmp_path: Path, pip_calls: list[list[str]]) -> None:
    # Given bundling enabled (the default) and pip stubbed out
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Bundled")
    lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_12,
        architecture=lambda_.Architecture.ARM_64,
        handler="lambdas.handlers.report.handler",
        code=lambda_code(runtime=lambda_.Runtime.PYTHON_3_12, architecture=lambda_.Architecture.ARM_64),
    )

    # When
    app.synth()

    # Then CDK called try_bundle, and the wheels match the runtime and architecture
    [asset] = tmp_path.glob("asset.*")
    assert (asset / "lambdas" / "handlers" / "report.py").is_file()
    [cmd] = pip_calls
    assert (_option(cmd, "--platform"), _option(cmd, "--python-version")) == ("manylinux2014_aarch64", "3.12")
