"""Lambda asset built without Docker: the `lambdas` package plus wheels for the Lambda platform."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
# lambdas/dal/database.py verifies the database's certificate against it (verify-full).
CA_BUNDLE = LAMBDAS_DIR / "certs" / "rds-global-bundle.pem"
CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")
# The Lambda Python runtime ships boto3 and what it needs. Bundled (aws-xray-sdk pulls botocore in),
# they would shadow the runtime's own consistent set and add ~23 MB to every function's package
# (bench/cold_start.py). lambdas/requirements.txt still locks them: the versions the tests run with.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil")
# pip's index lookups and downloads are most of a bundling synth (~8 s), yet CDK bundles again on any
# change to lambdas/: the installed wheels are cached, keyed by all that decides them (the lock's text,
# so a regenerated lock is a miss). Bump the format
# when what a cached tree holds changes, so older trees stop matching.
CACHE_ENV = "RDS_CDC_SETUP_BUNDLE_CACHE"
CACHE_FORMAT = 2  # 2: without bin/


def dependency_cache_root() -> Path:
    """Where installed dependency trees are kept: $RDS_CDC_SETUP_BUNDLE_CACHE, else .cache/ in the repo."""
    return Path(os.environ.get(CACHE_ENV) or LAMBDAS_DIR.parent / ".cache" / "lambda-deps")


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def remove_distributions(target: Path, names: tuple[str, ...]) -> list[str]:
    """Delete what pip installed into `target` for these distributions, file by file from their
    RECORD (never a guessed directory); returns the distributions removed."""
    wanted = {_normalized(n) for n in names}
    removed = []
    for dist_info in sorted(target.glob("*.dist-info")):
        name = _normalized(dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0])
        if name not in wanted:
            continue
        root = target.resolve()
        with (dist_info / "RECORD").open(newline="") as record:
            paths = {(target / row[0]).resolve() for row in csv.reader(record) if row}
        for path in paths:
            if path.is_relative_to(root) and path.is_file():
                path.unlink()
        for directory in sorted({d for p in paths for d in p.parents}, key=lambda p: len(p.parts), reverse=True):
            if (
                directory.is_relative_to(root)
                and directory != root
                and directory.is_dir()
                and not any(directory.iterdir())
            ):
                directory.rmdir()
        shutil.rmtree(dist_info, ignore_errors=True)
        removed.append(name)
    return removed


class CaBundleError(RuntimeError):
    """The RDS CA bundle is missing or unusable: every TLS connection to RDS would fail."""


def check_ca_bundle(path: Path) -> int:
    """The number of Amazon RDS CA certificates in the PEM bundle at `path`; raises if none."""
    fix = f"Fetch AWS's bundle before deploying: curl -fsSL --create-dirs {CA_BUNDLE_URL} -o {path}"
    if not path.is_file():
        raise CaBundleError(f"The RDS CA bundle {path} is missing. {fix}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=str(path))
    except ssl.SSLError:
        raise CaBundleError(f"The RDS CA bundle {path} is not a PEM certificate bundle. {fix}") from None
    found = [cert for cert in context.get_ca_certs() if "Amazon RDS" in str(cert.get("subject"))]
    if not found:
        raise CaBundleError(f"The RDS CA bundle {path} holds no Amazon RDS CA certificate. {fix}")
    return len(found)


@jsii.implements(ILocalBundling)
class PipBundling:
    """Copies the package directory into the asset and pip-installs its requirements.txt, a lock
    with hashes (`make lock`), as wheels for the target platform, so the asset runs on Lambda
    whatever builds it, with exactly the locked files (--require-hashes: pip refuses any other).
    The installed wheels come from the dependency cache while requirements.txt is unchanged."""

    def __init__(self, *, source_dir: Path, python_version: str, platform: str, ca_bundle: Path | None = None) -> None:
        self.source_dir = source_dir
        self.python_version = python_version
        self.platform = platform
        self.ca_bundle = ca_bundle

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        """ILocalBundling: jsii passes the BundlingOptions as keywords (a keyword-only parameter asks
        for that); none matters here, the image is never pulled."""
        self.build(Path(output_dir))
        return True

    def build(self, out: Path) -> None:
        # Only a real build (synth/deploy) bundles; tests skip bundling and so this check.
        if self.ca_bundle is not None:
            check_ca_bundle(self.ca_bundle)
        shutil.copytree(self.source_dir, out / self.source_dir.name, ignore=_IGNORED, dirs_exist_ok=True)
        requirements = self.source_dir / "requirements.txt"
        if requirements.exists():
            shutil.copytree(self.dependencies(requirements), out, dirs_exist_ok=True)

    def dependencies(self, requirements: Path) -> Path:
        """The installed third-party tree for `requirements`, from the cache, pip-installed on a miss."""
        material = [CACHE_FORMAT, requirements.read_text(), self.platform, self.python_version, RUNTIME_PROVIDED]
        key = hashlib.sha256(json.dumps(material).encode()).hexdigest()[:32]
        root = dependency_cache_root()
        cached = root / key
        if cached.is_dir():
            return cached
        root.mkdir(parents=True, exist_ok=True)
        # Installed beside its key, then renamed in one step: a key directory only ever exists
        # complete, and a crashed run leaves a tmp-* directory that no lookup matches.
        staging = Path(tempfile.mkdtemp(prefix=f"tmp-{key}-", dir=root))
        staging.chmod(0o755)  # not mkdtemp's 0700: copytree gives the asset root this directory's mode
        try:
            pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            subprocess.run(
                [
                    *pip,
                    "--no-compile",  # bytecode for the build machine's Python would be useless
                    f"--requirement={requirements}",
                    "--require-hashes",
                    f"--target={staging}",
                    f"--platform={self.platform}",
                    "--only-binary=:all:",
                    "--implementation=cp",
                    f"--python-version={self.python_version}",
                ],
                check=True,
            )
            remove_distributions(staging, RUNTIME_PROVIDED)
            # Console scripts: Lambda never runs them, and a removed distribution's stay behind (pip
            # --target records them outside the target: jmespath's bin/jp.py).
            shutil.rmtree(staging / "bin", ignore_errors=True)
            try:
                staging.rename(cached)
            except OSError:
                if not cached.is_dir():  # not another synth that finished the same key first
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return cached


def lambda_code(*, runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> lambda_.Code:
    """The one asset every step's function runs; wheels match `runtime` and `architecture`."""
    local = PipBundling(
        source_dir=LAMBDAS_DIR,
        python_version=runtime.name.removeprefix("python"),
        platform="manylinux2014_aarch64" if architecture.name == "arm64" else "manylinux2014_x86_64",
        ca_bundle=CA_BUNDLE,
    )
    return lambda_.Code.from_asset(
        str(LAMBDAS_DIR),
        exclude=["**/__pycache__", "**/*.pyc"],
        # The image is never pulled: local bundling always succeeds or raises.
        bundling=BundlingOptions(image=DockerImage.from_registry("unused"), local=local),
    )
