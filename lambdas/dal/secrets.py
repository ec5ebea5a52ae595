"""The Secrets Manager port: read the master secret, get-or-create (and, on teardown, delete) the user's secret."""

from __future__ import annotations

import json
import secrets as random
import string
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lambdas.dal.clients import client
from lambdas.shared.errors import InvalidInput

PASSWORD_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never print the password, even in a traceback
        return f"Credentials(username={self.username!r}, password=***)"


@dataclass(frozen=True)
class UserSecret:
    arn: str
    credentials: Credentials
    created: bool


def generate_password(length: int = 32) -> str:
    return "".join(random.choice(PASSWORD_ALPHABET) for _ in range(length))


class Secrets:
    def __init__(self, secrets_client: Any | None = None) -> None:
        self._sm = secrets_client or client("secretsmanager")

    def credentials(self, secret_arn: str) -> Credentials:
        try:
            raw = self._sm.get_secret_value(SecretId=secret_arn)["SecretString"]
            value = json.loads(raw)
            return Credentials(username=value["username"], password=value["password"])
        except ClientError as error:
            code = error.response["Error"]["Code"]
            raise InvalidInput(
                f"Cannot read secret {secret_arn} ({code}); pass a master_secret_arn this workflow "
                "may read, holding JSON with username and password"
            ) from None
        except (ValueError, KeyError, TypeError):
            raise InvalidInput(f"Secret {secret_arn} is not JSON with 'username' and 'password' keys") from None

    def ensure_user_secret(
        self, *, name: str, username: str, connection: dict[str, Any], kms_key_arn: str | None
    ) -> UserSecret:
        """The secret holding the Streamkap user's password: reused when present, so a
        re-run never rotates a working password."""
        try:
            described = self._sm.describe_secret(SecretId=name)
            return UserSecret(arn=described["ARN"], credentials=self.credentials(described["ARN"]), created=False)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        password = generate_password()
        body = {"username": username, "password": password, "engine": "postgres", **connection}
        kwargs: dict[str, Any] = {
            "Name": name,
            "Description": "Streamkap CDC user created by rds-cdc-setup",
            "SecretString": json.dumps(body),
            "Tags": [{"Key": "created-by", "Value": "rds-cdc-setup"}],
        }
        if kms_key_arn:
            kwargs["KmsKeyId"] = kms_key_arn
        created = self._sm.create_secret(**kwargs)
        return UserSecret(arn=created["ARN"], credentials=Credentials(username, password), created=True)

    def find_secret(self, name: str) -> str | None:
        """The ARN of a live secret by name; None when absent or already scheduled for deletion."""
        try:
            described = self._sm.describe_secret(SecretId=name)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                return None
            raise
        return None if described.get("DeletedDate") else described["ARN"]

    def delete_secret(self, arn: str) -> None:
        # Without a recovery window: the password is useless once its role is dropped, and a
        # secret pending deletion would block a later setup from creating one of the same name.
        self._sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
