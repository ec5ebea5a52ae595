"""app.py, the synth's entry point: a setting error is one line, and the CDK CLI prints no notice of its own."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

import app as entry_point
from tests.infra.synth import ROOT, Synth

pytestmark = pytest.mark.infra

VPC = "vpc-0123456789abcdef0"


@pytest.mark.parametrize(
    ("context", "line"),
    [
        ({"log_retention_days": "8"}, "ConfigError: context 'log_retention_days' must be one of [1, 3, "),
        ({"target_scope": "bogus"}, "ConfigError: context 'target_scope' must be one of tagged, account, got 'bogus'"),
        ({"vpc_id": VPC}, "ConfigError: context 'vpc_id' needs 'subnet_ids' and 'security_group_ids'"),
        (
            {"rds_ca_bundle": "/nope.pem"},
            "CaBundleError: The RDS CA bundle of context 'rds_ca_bundle': /nope.pem cannot",
        ),
        ({"rds_ca_bundle": "{not_pem}"}, "CaBundleError: The RDS CA bundle of context 'rds_ca_bundle': "),
    ],
    ids=["retention", "scope", "vpc-without-subnets", "missing-ca-bundle", "ca-bundle-not-pem"],
)
def test_a_setting_error_stops_the_synth_with_one_line_naming_it_and_where_the_readme_explains_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], context: dict[str, str], line: str
) -> None:
    # Given a bad value in the context; bundling on, as in `cdk synth` (a bad bundle file fails in the build)
    not_pem = tmp_path / "bundle.pem"
    not_pem.write_text("<html>Access Denied</html>")
    context = {key: value.format(not_pem=not_pem) for key, value in context.items()}
    out = tmp_path / "cdk.out"

    # When
    code = entry_point.main(App(context=context, outdir=str(out)))

    # Then exit 1 and one line on stderr, with the fix's README section; nothing started in cdk.out
    captured = capsys.readouterr()
    assert code == 1
    [printed] = captured.err.splitlines()
    assert printed.startswith(line)
    assert printed.endswith("(README: RDS CA bundle)" if "CaBundle" in line else "(README: Configuration, Deployment)")
    assert not list(out.glob("asset.*"))


def test_an_unexpected_error_keeps_its_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_stack(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(entry_point, "CdcSetupStack", broken_stack)
    with pytest.raises(RuntimeError, match="a bug"):
        entry_point.main(App(outdir=str(tmp_path)))


def test_cdk_json_configures_every_feature_flag_the_cdk_cli_would_print_a_notice_for(default: Synth) -> None:
    # The rule of `cdk synth`'s "N feature flags are not configured" (aws-cdk's FlagOperations.filterNeedsAttention),
    # applied to the report the synth writes; cdk.json sets each to its recommended value, which changes nothing
    # in our template. A new aws-cdk-lib with new flags fails here: set them (`cdk flags --unstable=flags`).
    manifest = json.loads((Path(default.app.outdir) / "manifest.json").read_text())
    flags: dict[str, dict[str, Any]] = manifest["artifacts"]["aws-cdk-lib/feature-flag-report"]["properties"]["flags"]
    obsolete = {
        "@aws-cdk/core:enableStackNameDuplicates",
        "@aws-cdk/aws-s3:grantWriteWithoutAcl",
        "@aws-cdk/aws-kms:defaultKeyPolicies",
    }
    unconfigured = [
        name
        for name, flag in flags.items()
        if name not in obsolete
        and "userValue" not in flag
        and flag.get("unconfiguredBehavesLike", {}).get("v2", False) != flag["recommendedValue"]
    ]
    assert unconfigured == []
    cdk_json = json.loads((ROOT / "cdk.json").read_text())
    assert {name: flags[name]["userValue"] for name in cdk_json["context"]} == cdk_json["context"]


def test_cdk_synth_on_a_setting_error_prints_one_line_and_fails(tmp_path: Path) -> None:
    # The CDK CLI runs app.py (cdk.json "app") and prints its output: the path a user sees
    done = subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "cdk"), "synth", "-c", "target_scope=bogus", "-o", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "CDK_DISABLE_CLI_TELEMETRY": "true",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_DEFAULT_REGION": "us-east-1",
        },
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stderr.count("target_scope") == 1
    assert "ConfigError: context 'target_scope' must be one of tagged, account, got 'bogus'" in done.stderr
