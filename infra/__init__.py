"""CDK constructs for rds-cdc-setup: config, bundling, workflow and the stack that wires them."""
