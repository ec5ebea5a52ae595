#!/usr/bin/env python3
"""CDK entry point: config from context, one stack, cdk-nag on every synth."""

import os

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import CdcSetupConfig
from infra.stack import CdcSetupStack

# CDK's built-in CloudFormation validation (a WASM engine) took 3 of the 4.5 s of synth and only
# warns; `make test` runs cfn-lint on the template, which fails on errors (bench/synth.py, docs/BENCHMARKS.md).
app = App(builtin_cloud_formation_validation=False)
config = CdcSetupConfig.from_context(app)
CdcSetupStack(
    app,
    "RdsCdcSetup",
    config=config,
    env=Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")),
)
Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
app.synth()
