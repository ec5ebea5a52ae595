"""The Lambda environment, read once through one typed model."""

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Environment(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    notification_topic_arn: str | None = Field(None, alias="NOTIFICATION_TOPIC_ARN")
    secret_name_prefix: str = Field("rds-cdc-setup/", alias="SECRET_NAME_PREFIX")
    secrets_kms_key_arn: str | None = Field(None, alias="SECRETS_KMS_KEY_ARN")
    # verify-full in AWS; "disable" only for the local emulated stack, whose server has no TLS.
    db_tls: Literal["verify-full", "disable"] = Field("verify-full", alias="DB_TLS")
    db_connect_timeout_seconds: int = Field(10, alias="DB_CONNECT_TIMEOUT_SECONDS")
    # key=value an instance must carry for an EventBridge-started execution to set it up
    opt_in_tag: str = Field("streamkap:cdc=enabled", alias="OPT_IN_TAG")
    # "tagged": the deployment's IAM lets the workflow modify and reboot only targets carrying the
    # opt-in tag (infra/permissions.py), so DescribeTarget refuses others before any change, by name.
    # The deployment always sets it; "account" where unset (the local stack, tests).
    target_scope: Literal["tagged", "account"] = Field("account", alias="TARGET_SCOPE")
    # Write transactions open this long are reported as blocking slot creation.
    long_transaction_seconds: int = Field(60, alias="LONG_TRANSACTION_SECONDS")
    # How long DDL and slot creation wait for a lock before giving up (never queue behind production).
    lock_timeout_ms: int = Field(5_000, alias="LOCK_TIMEOUT_MS")
    slot_timeout_ms: int = Field(30_000, alias="SLOT_TIMEOUT_MS")


def environment() -> Environment:
    """Read on each call (microseconds): tests and the local runner change the environment."""
    return Environment.model_validate({k: v for k, v in os.environ.items() if v != ""})
