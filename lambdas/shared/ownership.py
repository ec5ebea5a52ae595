"""How the workflow marks what it creates, and the explicit opt-ins to take over what it did not.

Everything the workflow creates carries a durable marker that it checks before changing or
dropping the object: a tag on AWS resources, a comment on database objects. An object with the
workflow's name but without the marker belongs to someone else: a named refusal (NotOwned),
unless the execution input's `adopt` lists its kind, which the dry-run plan then shows."""

from __future__ import annotations

from typing import Literal

# AWS resources (secrets, parameter groups, security groups): this tag, with this value.
OWNER_TAG_KEY = "created-by"
OWNER_TAG_VALUE = "rds-cdc-setup"
OWNER_TAG = {"Key": OWNER_TAG_KEY, "Value": OWNER_TAG_VALUE}

# Database objects (roles, schema, tables, publication): a COMMENT starting with this text.
COMMENT_MARKER = "rds-cdc-setup"

# The kinds of existing objects an execution may be told to adopt (mark as its own and change).
AdoptKind = Literal[
    "user",  # the CDC login role (user_name)
    "role",  # the CDC group role (role_name)
    "schema",  # signal_table_schema
    "tables",  # the signal and heartbeat tables
    "publication",  # publication_name
    "slot",  # slot_name
    "secret",  # the CDC user's secret
    "parameter_group",  # the custom parameter group named after the target
    "pending_changes",  # parameter changes already pending a reboot, applied by the workflow's reboot
]
ADOPT_KINDS: tuple[str, ...] = AdoptKind.__args__  # type: ignore[attr-defined]
