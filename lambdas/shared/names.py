"""The names the workflow gives what it creates, in one place: infra/ (resources, IAM scopes),
lambdas/ (what the steps create and look for) and local/ (the emulated stack) import them."""

from __future__ import annotations

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
