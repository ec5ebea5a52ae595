"""The Secrets Manager port: read the master secret, get-or-create (and, on teardown, delete) the user's secret."""

from __future__ import annotations

import json
import secrets as random
import string
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lambdas.dal.clients import client, is_transient
from lambdas.shared.errors import InvalidInput, NotOwned, TransientFailure
from lambdas.shared.names import STREAMKAP_SOURCE_TAG_KEY
from lambdas.shared.ownership import OWNER_TAG, OWNER_TAG_KEY, OWNER_TAG_VALUE

PASSWORD_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never print the password, even in a traceback
        return f"Credentials(username={self.username!r}, password=***)"


@dataclass(frozen=True)
class SecretState:
    arn: str | None  # None: no secret at that name
    problems: tuple[str, ...] = ()  # why it is not the workflow's own

    @property
    def owned(self) -> bool:
        return self.arn is not None and not self.problems

    def refusal(self, name: str) -> str:
        return (
            f"Secret {name} exists but is not one rds-cdc-setup created ({'; '.join(self.problems)}), so its "
            "password will not be trusted or deleted. Remove it, use another user_name, or take it over "
            'deliberately with adopt: ["secret"]'
        )


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
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if is_transient(code, status):  # a client without the hooks of lambdas.dal.clients
                raise TransientFailure(f"Secrets Manager answered {code} reading {secret_arn}; retry") from None
            raise InvalidInput(
                f"Cannot read secret {secret_arn} ({code}); pass a master_secret_arn this workflow "
                "may read, holding JSON with username and password"
            ) from None
        except (ValueError, KeyError, TypeError):
            raise InvalidInput(f"Secret {secret_arn} is not JSON with 'username' and 'password' keys") from None

    def json_value(self, secret_arn: str) -> dict[str, Any]:
        """A secret's JSON object (Streamkap's API credentials); its value never leaves the caller."""
        try:
            value = json.loads(self._sm.get_secret_value(SecretId=secret_arn)["SecretString"])
        except ClientError as error:
            code = error.response["Error"]["Code"]
            raise InvalidInput(f"Cannot read secret {secret_arn} ({code})") from None
        except (ValueError, KeyError, TypeError):
            raise InvalidInput(f"Secret {secret_arn} is not JSON") from None
        if not isinstance(value, dict):
            raise InvalidInput(f"Secret {secret_arn} is not a JSON object")
        return value

    def recorded_source(self, secret_arn: str) -> str | None:
        """The Streamkap source id recorded on the workflow's CDC user's secret (RegisterSource's marker)."""
        tags = self._sm.describe_secret(SecretId=secret_arn).get("Tags") or []
        return next((tag.get("Value") for tag in tags if tag.get("Key") == STREAMKAP_SOURCE_TAG_KEY), None)

    def record_source(self, secret_arn: str, source_id: str) -> None:
        self._sm.tag_resource(SecretId=secret_arn, Tags=[{"Key": STREAMKAP_SOURCE_TAG_KEY, "Value": source_id}])

    def inspect_user_secret(self, name: str, *, kms_key_arn: str | None) -> SecretState:
        """Is there a secret at the CDC user's secret name, and is it the workflow's own: its owner tag,
        and (when the workflow has a key) encrypted with the workflow's key? Read without its value."""
        try:
            described = self._sm.describe_secret(SecretId=name)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                return SecretState(arn=None)
            raise
        tags = {tag.get("Key"): tag.get("Value") for tag in described.get("Tags") or []}
        problems = []
        if tags.get(OWNER_TAG_KEY) != OWNER_TAG_VALUE:
            problems.append(f"no {OWNER_TAG_KEY}={OWNER_TAG_VALUE} tag")
        if kms_key_arn and described.get("KmsKeyId") != kms_key_arn:
            problems.append("not encrypted with the workflow's KMS key")
        if described.get("DeletedDate"):
            problems.append("scheduled for deletion")
        return SecretState(arn=described["ARN"], problems=tuple(problems))

    def ensure_user_secret(
        self, *, name: str, username: str, connection: dict[str, Any], kms_key_arn: str | None, adopt: bool = False
    ) -> UserSecret:
        """The secret holding the Streamkap user's password: the workflow's own is reused, so a re-run
        never rotates a working password; someone else's is used only when adopted (then tagged)."""
        existing = self.inspect_user_secret(name, kms_key_arn=kms_key_arn)
        if existing.arn is not None:
            if not existing.owned:
                if not adopt:
                    raise NotOwned(existing.refusal(name))
                self._sm.tag_resource(SecretId=existing.arn, Tags=[OWNER_TAG])
            credentials = self.credentials(existing.arn)
            if credentials.username != username:
                raise InvalidInput(
                    f"Secret {name} holds the password of {credentials.username!r}, not of user_name {username!r}"
                )
            return UserSecret(arn=existing.arn, credentials=credentials, created=False)
        password = generate_password()
        body = {"username": username, "password": password, "engine": "postgres", **connection}
        kwargs: dict[str, Any] = {
            "Name": name,
            "Description": "Streamkap CDC user created by rds-cdc-setup",
            "SecretString": json.dumps(body),
            "Tags": [OWNER_TAG],
        }
        if kms_key_arn:
            kwargs["KmsKeyId"] = kms_key_arn
        created = self._sm.create_secret(**kwargs)
        return UserSecret(arn=created["ARN"], credentials=Credentials(username, password), created=True)

    def delete_secret(self, arn: str) -> None:
        # Without a recovery window: the password is useless once its role is dropped, and a
        # secret pending deletion would block a later setup from creating one of the same name.
        self._sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
