"""The names the workflow gives what it creates, in one place: infra/ (resources, IAM scopes),
lambdas/ (what the steps create and look for) and local/ (the emulated stack) import them."""

from __future__ import annotations

import re

PROJECT = "rds-cdc-setup"
SECRET_NAME_PREFIX = f"{PROJECT}/"
ALARM_NAME_PREFIX = f"{PROJECT}-"
LOCK_TABLE_NAME = f"{PROJECT}-locks"  # the local stack's; a deployment names its table itself (env LOCK_TABLE_NAME)
HANDLERS_PACKAGE = "lambdas.handlers"


def handler_module(step: str) -> str:
    """DropSlot -> drop_slot: the module in HANDLERS_PACKAGE whose `handler` serves a step."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", step).lower()
