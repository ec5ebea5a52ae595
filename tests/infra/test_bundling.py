"""PipBundling: the Lambda asset is built locally, without Docker."""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from infra import bundling
from infra.bundling import CA_BUNDLE_URL, CaBundleError, PipBundling, check_ca_bundle, lambda_code


@pytest.fixture
def pip_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []

    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(bundling.subprocess, "run", run)
    return calls


def ca_pem(common_name: str) -> bytes:
    """A self-signed CA certificate made for the test (never committed: real bundles come from AWS)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def ca_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bundle = tmp_path / "rds-global-bundle.pem"
    bundle.write_bytes(ca_pem("Amazon RDS test Root CA RSA2048 G1") + ca_pem("Amazon RDS test Root CA ECC384 G1"))
    monkeypatch.setattr(bundling, "CA_BUNDLE", bundle)
    return bundle


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
def test_cdk_bundles_the_real_package_through_jsii(tmp_path: Path, pip_calls: list[list[str]], ca_bundle: Path) -> None:
    # Given bundling enabled (the default), an RDS CA bundle and pip stubbed out
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


def test_an_rds_ca_bundle_passes_the_check(ca_bundle: Path) -> None:
    assert check_ca_bundle(ca_bundle) == 2


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        (None, "is missing"),
        (b"<html>Access Denied</html>", "not a PEM certificate bundle"),
        (ca_pem("Some Other Root CA"), "holds no Amazon RDS CA certificate"),
    ],
    ids=["missing", "not-pem", "not-rds"],
)
def test_a_missing_or_wrong_ca_bundle_fails_with_the_command_that_fetches_it(
    tmp_path: Path, content: bytes | None, complaint: str
) -> None:
    bundle = tmp_path / "certs" / "rds-global-bundle.pem"
    if content is not None:
        bundle.parent.mkdir()
        bundle.write_bytes(content)
    with pytest.raises(CaBundleError, match=complaint) as raised:
        check_ca_bundle(bundle)
    assert f"curl -fsSL --create-dirs {CA_BUNDLE_URL} -o {bundle}" in str(raised.value)


@pytest.mark.infra
def test_a_deploy_synth_without_the_ca_bundle_fails_before_pip_runs(
    tmp_path: Path, pip_calls: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given bundling enabled, as `cdk deploy` has it, and no bundle
    monkeypatch.setattr(bundling, "CA_BUNDLE", tmp_path / "absent.pem")
    stack = Stack(App(outdir=str(tmp_path / "out")), "Bundled")

    # When a function gets the code (CDK bundles as it stages the asset)
    # Then the app stops with the fix in the message, and nothing was installed
    with pytest.raises(RuntimeError, match="RDS CA bundle .*absent.pem is missing. Fetch AWS's bundle"):
        lambda_.Function(
            stack,
            "Fn",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="lambdas.handlers.report.handler",
            code=lambda_code(runtime=lambda_.Runtime.PYTHON_3_12, architecture=lambda_.Architecture.ARM_64),
        )
    assert pip_calls == []


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
