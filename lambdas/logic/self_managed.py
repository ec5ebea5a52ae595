"""Self-managed (non-RDS) PostgreSQL: no RDS API, no parameter group, never a reboot.

DescribeSelfManagedTarget gives the rest of the workflow the same Target shape DescribeTarget
does, from the execution input alone (it opens no connection: Preflight is the first step that
talks to the server). Preflight then insists on wal_level=logical, which only the server's
administrator can set, with a restart the workflow never makes."""

from __future__ import annotations

from lambdas.shared.errors import InvalidInput
from lambdas.shared.models import SetupInput, Target

NOT_ON_RDS = ""  # what RDS would report (version, parameter group) is unknown or absent here


def describe_self_managed_target(setup: SetupInput) -> Target:
    if not setup.self_managed or setup.host is None or setup.master_secret_arn is None:
        raise InvalidInput("DescribeSelfManagedTarget needs host and master_secret_arn in the input")
    return Target(
        instance_id=setup.target_id,  # host:port/database: names the lock and the user's secret
        engine="postgres",
        engine_version=NOT_ON_RDS,  # Preflight reads server_version_num from the server itself
        major_version=0,
        status="self-managed",
        parameter_group=NOT_ON_RDS,
        parameter_group_family=NOT_ON_RDS,
        parameter_apply_status=NOT_ON_RDS,
        host=setup.host,
        port=setup.server_port,
        database=setup.database or "postgres",
        master_secret_arn=setup.master_secret_arn,
        self_managed=True,
        ca_certificate=setup.ca_certificate,
    )


def wal_level_fix(target: Target, wal_level: str) -> str:
    """The message for a self-managed server that cannot decode logically yet: what to run."""
    return (
        f"PostgreSQL at {target.host}:{target.port} runs with wal_level={wal_level}; logical replication "
        "needs wal_level=logical, which only a restart applies and this workflow never restarts a "
        "self-managed server. As a superuser run: ALTER SYSTEM SET wal_level = logical; and make sure "
        "max_replication_slots and max_wal_senders leave one free each for Streamkap (e.g. ALTER SYSTEM "
        "SET max_replication_slots = 10; ALTER SYSTEM SET max_wal_senders = 10;), restart PostgreSQL "
        "(e.g. pg_ctl restart or systemctl restart postgresql), then start the execution again. "
        "Nothing was changed"
    )
