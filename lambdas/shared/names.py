"""The names the workflow gives what it creates, in one place: infra/ (resources, IAM scopes),
lambdas/ (what the steps create and look for) and local/ (the emulated stack) import them."""

from __future__ import annotations

import hashlib
import re

PROJECT = "rds-cdc-setup"
SECRET_NAME_PREFIX = f"{PROJECT}/"
ALARM_NAME_PREFIX = f"{PROJECT}-"
LOCK_TABLE_NAME = f"{PROJECT}-locks"  # the local stack's; a deployment names its table itself (env LOCK_TABLE_NAME)
HANDLERS_PACKAGE = "lambdas.handlers"
# The check's findings (lambdas/logic/publish_findings.py): one CloudWatch metric per finding kind in this
# namespace (the steps' IAM allows PutMetricData in it only; the dashboard searches it), and the last run's
# findings per target, kept in the lock table under keys with this prefix (IAM allows only those keys).
CHECK_METRICS_NAMESPACE = "RdsCdcSetup/Check"
CHECK_METRICS_DIMENSION = "Target"
CHECK_RECORD_KEY_PREFIX = "check#"
# key=value a target carries to opt in: the deployment's default (infra/config.py) and the functions'.
DEFAULT_OPT_IN_TAG = "streamkap:cdc=enabled"
# RegisterSource: the Streamkap API (the base URL Streamkap's Terraform provider talks to), the
# secrets holding its client id/secret (IAM reads only secrets named with this prefix), and the tag on
# the CDC user's secret that records the id of the source the workflow created (its ownership marker).
STREAMKAP_API_URL = "https://api.streamkap.com/api"
STREAMKAP_API_SECRET_PREFIX = "streamkap-api/"  # noqa: S105 - a name prefix
STREAMKAP_SOURCE_TAG_KEY = "streamkap-source-id"

# The seed defaults: the names Streamkap's guide gives the objects; setup's and teardown's inputs
# default to them.
SIGNAL_TABLE_SCHEMA = "streamkap"
USER_NAME = "streamkap_user"
ROLE_NAME = "streamkap_role"
PUBLICATION_NAME = "streamkap_pub"
SLOT_NAME = "streamkap_pgoutput_slot"


def handler_module(step: str) -> str:
    """DropSlot -> drop_slot: the module in HANDLERS_PACKAGE whose `handler` serves a step."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", step).lower()


def security_group_name(target_id: str) -> str:
    """The security group admitting allow_cidrs to an instance or Aurora cluster (one per target, per VPC)."""
    return f"{PROJECT}-{target_id}-streamkap"


# The check schedules (EventBridge Scheduler): one per prepared target, all in one schedule group the
# template creates. A schedule in that group is the workflow's by construction (only the template's
# group, only the workflow's roles may write in it): it is also the record that setup prepared the
# target, which the lifecycle rules' check reads (lambdas/logic/schedule.py).
CHECK_SCHEDULE_GROUP = "rds-cdc-check"
SCHEDULE_NAME_MAX = 64  # Scheduler: [0-9a-zA-Z-_.]{1,64}
_SCHEDULE_SAFE = re.compile(r"[0-9A-Za-z_-]+")
_TARGET_PART_MAX = 36
_DATABASE_PART_MAX = 19


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _sanitized(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z-]", "-", text)


def check_schedule_prefix(
    *, instance_id: str | None = None, cluster_id: str | None = None, host: str | None = None, port: int = 5432
) -> str:
    """The start of the name of every check schedule of one target, '.' included: `db.<instance>.`,
    `cluster.<cluster>.` or `host.<host>_<hash>.`. RDS identifiers hold no '_' or '.', so an identifier
    too long to fit (shortened, '_' + a hash of the whole) never meets another one; a host is always hashed
    with its port (it may hold '.' and ':')."""
    if host is not None:
        return f"host.{_sanitized(host)[:25]}_{_digest(f'{host}:{port}')}."
    kind, identifier = ("cluster", cluster_id) if cluster_id else ("db", instance_id)
    if not identifier:
        raise ValueError("a check schedule names an instance, a cluster or a host")
    part = identifier if len(identifier) <= _TARGET_PART_MAX else f"{identifier[:25]}_{_digest(identifier)}"
    return f"{kind}.{part}."


def check_schedule_name(prefix: str, database: str) -> str:
    """The schedule of one database of a target: its prefix, then the database's name where it is safe and
    short, else a shortened name, '.' and a hash (a safe name holds no '.', so the two never meet)."""
    if _SCHEDULE_SAFE.fullmatch(database) and len(database) <= _DATABASE_PART_MAX:
        part = database
    else:
        part = f"{_sanitized(database)[:8]}.{_digest(database)}"
    name = prefix + part
    assert len(name) <= SCHEDULE_NAME_MAX, name
    return name
