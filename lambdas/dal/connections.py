"""Open connections to the target with credentials read from Secrets Manager at run time, verifying
its certificate against the RDS CA bundle, or a self-managed target's own CA (input ca_certificate)."""

from __future__ import annotations

from lambdas.dal.database import Database
from lambdas.dal.secrets import Secrets
from lambdas.shared.models import Target


def as_master(target: Target, secrets: Secrets, *, replication: bool = False) -> Database:
    """`replication`: a replication-protocol connection (ALTER_REPLICATION_SLOT), not an SQL one."""
    return as_user(target, secrets, target.master_secret_arn, replication=replication)


def as_user(target: Target, secrets: Secrets, secret_arn: str, *, replication: bool = False) -> Database:
    return Database.connect(
        host=target.host,
        port=target.port,
        database=target.database,
        credentials=secrets.credentials(secret_arn),
        ca_certificate=target.ca_certificate if target.self_managed else None,
        replication=replication,
    )
