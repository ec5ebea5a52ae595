"""boto3 clients, made once per Lambda container (first use), not per call.

AWS refusals for missing IAM permissions become the named error InsufficientPrivilege here,
once, instead of at every call site."""

from functools import cache
from typing import Any

import boto3

from lambdas.shared.errors import InsufficientPrivilege

ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}


def _refuse_access_denied(parsed: dict[str, Any], model: Any, **_: Any) -> None:
    error = parsed.get("Error") or {}
    if error.get("Code") in ACCESS_DENIED:
        operation = f"{model.service_model.service_name}:{model.name}"
        raise InsufficientPrivilege(
            f"The workflow's IAM role may not call {operation}: {error.get('Message', '')}. "
            "Check the function's role policy (see README: Deploy)"
        )


@cache
def client(service: str) -> Any:
    made = boto3.client(service)
    made.meta.events.register("after-call", _refuse_access_denied)
    return made
