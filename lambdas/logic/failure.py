"""What NotifyFailure steps do for either workflow: name the error, keep its message, notify."""

from __future__ import annotations

import json
from typing import Any

from lambdas.dal.notifications import notify
from lambdas.shared.models import input_target_id


def failure_message(error: dict[str, Any]) -> str:
    """The Lambda's errorMessage from the Catch's Cause, without the stack trace."""
    cause = error.get("Cause") or ""
    try:
        return json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        return cause


def failed_target(event: dict[str, Any]) -> str | None:
    """The target of a failed run, from its input even where that did not validate; an EventBridge
    event's resource where the input was never made from it (ReadTriggerTags failed)."""
    given = event.get("input")
    if isinstance(given, dict) and (target := input_target_id(given)):
        return target
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    return detail.get("SourceIdentifier") or next(iter(event.get("resources") or []), None)


def report_failure(event: dict[str, Any], workflow: str) -> dict[str, Any]:
    error = event.get("error") or {}
    name = error.get("Error", "UnknownError")
    message = failure_message(error)
    target = failed_target(event)
    notify(f"{workflow} failed: {target}: {name}", {"error": name, "message": message, "instance": target})
    return {"error": name, "message": message}
