"""How the workflow marks what it creates, and the explicit opt-ins to take over what it did not.

Everything the workflow creates carries a durable marker that it checks before changing or
dropping the object: a tag on AWS resources, a comment on database objects. An object with the
workflow's name but without the marker belongs to someone else: a named refusal (NotOwned),
unless the execution input's `adopt` lists its kind, which the dry-run plan then shows."""

from __future__ import annotations

import json
from typing import Literal, get_args

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
    "streamkap_source",  # a Streamkap source with the workflow's name (RegisterSource)
    "security_group",  # the security group named after the target (allow_cidrs), and the rules in it
]
ADOPT_KINDS: tuple[str, ...] = get_args(AdoptKind)


def marker(what: str) -> str:
    """The comment the workflow puts on a database object it creates (or adopts)."""
    return f"{COMMENT_MARKER}: {what}"


def is_marked(comment: str | None) -> bool:
    return comment is not None and comment.startswith(f"{COMMENT_MARKER}:")


# The CDC user's comment also records the replication slots the workflow created for it, as
# (database, slot) pairs: slots take no comment, and the user outlives them in a teardown.
_SLOTS = "; slots "


def user_marker(slots: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset()) -> str:
    return marker("Streamkap CDC login") + _SLOTS + json.dumps(sorted([list(pair) for pair in slots]))


def recorded_slots(comment: str | None) -> frozenset[tuple[str, str]]:
    """The (database, slot) pairs a marked user's comment records; none for anything else."""
    if not is_marked(comment):
        return frozenset()
    _, found, listed = (comment or "").partition(_SLOTS)
    try:
        return frozenset((str(d), str(s)) for d, s in json.loads(listed)) if found else frozenset()
    except (ValueError, TypeError):
        return frozenset()
