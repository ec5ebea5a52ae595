"""Open connections to the target with credentials read from Secrets Manager at run time."""

from __future__ import annotations

from lambdas.dal.database import Database
from lambdas.dal.secrets import Secrets
from lambdas.shared.models import Target


def as_master(target: Target, secrets: Secrets) -> Database:
    return Database.connect(
        host=target.host,
        port=target.port,
        database=target.database,
        credentials=secrets.credentials(target.master_secret_arn),
    )


def as_user(target: Target, secrets: Secrets, secret_arn: str) -> Database:
    return Database.connect(
        host=target.host, port=target.port, database=target.database, credentials=secrets.credentials(secret_arn)
    )
