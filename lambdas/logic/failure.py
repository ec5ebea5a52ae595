"""What NotifyFailure steps do for either workflow: name the error, keep its message, notify."""

from __future__ import annotations

import json
from typing import Any

from lambdas.dal.notifications import notify


def failure_message(error: dict[str, Any]) -> str:
    """The Lambda's errorMessage from the Catch's Cause, without the stack trace."""
    cause = error.get("Cause") or ""
    try:
        return json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        return cause


def report_failure(event: dict[str, Any], workflow: str) -> dict[str, Any]:
    error = event.get("error") or {}
    name = error.get("Error", "UnknownError")
    message = failure_message(error)
    given = event.get("input") or {}
    instance = given.get("db_instance_identifier") or given.get("db_cluster_identifier")
    notify(f"{workflow} failed: {instance}: {name}", {"error": name, "message": message, "instance": instance})
    return {"error": name, "message": message}
