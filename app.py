#!/usr/bin/env python3
"""CDK entry point: config from context, one stack, cdk-nag on every synth."""

import os

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import CdcSetupConfig
from infra.stack import CdcSetupStack

app = App()
config = CdcSetupConfig.from_context(app)
CdcSetupStack(
    app,
    "RdsCdcSetup",
    config=config,
    env=Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")),
)
Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
app.synth()
