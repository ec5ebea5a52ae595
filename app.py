#!/usr/bin/env python3
"""CDK entry point: config from context, one stack, cdk-nag on every synth."""

from __future__ import annotations

import os
import sys

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.bundling import CaBundleError
from infra.config import CdcSetupConfig, ConfigError
from infra.stack import CdcSetupStack

# The errors of a deployment's own settings, each with the README section that explains them. Their
# messages name the key and the fix: the synth prints that one line, not the CDK's and jsii's traceback.
SETTING_ERRORS: dict[type[Exception], str] = {
    ConfigError: "README: Configuration, Deployment",
    CaBundleError: "README: RDS CA bundle",
}


def main(app: App | None = None) -> int:
    """Synthesize the stack; 1 with one line on stderr for a setting error. Anything else raises as it is."""
    # CDK's built-in CloudFormation validation (a WASM engine) took 3 of the 4.5 s of synth and only
    # warns; `make test` runs cfn-lint on the template, which fails on errors (bench/synth.py, docs/BENCHMARKS.md).
    app = app or App(builtin_cloud_formation_validation=False)
    try:
        config = CdcSetupConfig.from_context(app)
        CdcSetupStack(
            app,
            "RdsCdcSetup",
            config=config,
            env=Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")),
        )
    except tuple(SETTING_ERRORS) as error:
        [see] = [see for kind, see in SETTING_ERRORS.items() if isinstance(error, kind)]
        print(f"{type(error).__name__}: {error} ({see})", file=sys.stderr)
        return 1
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
