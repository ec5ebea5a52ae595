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


def environment() -> Environment:
    """Read on each call (microseconds): tests and the local runner change the environment."""
    return Environment.model_validate({k: v for k, v in os.environ.items() if v != ""})
