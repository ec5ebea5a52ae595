"""`python -m cli`: plan, set up, follow and tear down Streamkap CDC on RDS PostgreSQL, against the
state machines deployed in AWS (by ARN) or the local emulated stack (`--local`)."""
