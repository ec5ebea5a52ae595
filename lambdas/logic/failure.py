"""What NotifyFailure steps do for either workflow: name the error, keep its message, notify."""

from __future__ import annotations

import json
from typing import Any

from lambdas.dal.notifications import notify
from lambdas.shared.models import FailureInput, NotifyFailureInput, StepError, input_target_id


def failure_message(error: StepError) -> str:
    """The Lambda's errorMessage from the Catch's Cause, without the stack trace."""
    cause = error.Cause or ""
    try:
        return json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        return cause


def given_target(given: Any) -> str | None:
    """The target an input names, even one that did not validate."""
    return input_target_id(given) if isinstance(given, dict) else None


def failed_target(failure: NotifyFailureInput) -> str | None:
    """The target of a failed setup, from its input even where that did not validate; an EventBridge
    event's resource where the input was never made from it (ReadTriggerTags failed)."""
    if target := given_target(failure.input):
        return target
    detail = failure.detail if isinstance(failure.detail, dict) else {}
    return detail.get("SourceIdentifier") or next(iter(failure.resources or []), None)


def report_failure(failure: FailureInput, target: str | None, workflow: str) -> dict[str, Any]:
    name = failure.error.Error
    message = failure_message(failure.error)
    notify(f"{workflow} failed: {target}: {name}", {"error": name, "message": message, "instance": target})
    return {"error": name, "message": message}
