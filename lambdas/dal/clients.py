"""boto3 clients, made once per Lambda container (first use), not per call.

Errors are named here, once, instead of at every call site, after botocore's own retries
(adaptive mode: backoff, and client-side rate limiting once throttled) are spent:
- IAM refusals become InsufficientPrivilege;
- throttling, AWS-side failures (5xx) and connection failures become TransientFailure, which
  every Lambda task of the ASL retries again with jittered backoff."""

from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from lambdas.shared.errors import InsufficientPrivilege, TransientFailure

ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
THROTTLED = {"ThrottlingException", "Throttling", "RequestLimitExceeded", "TooManyRequestsException"}
AWS_SIDE = {"ServiceUnavailable", "ServiceUnavailableException", "InternalFailure", "InternalServiceError"}
CONNECTION_FAILURES = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)

# Adaptive: standard retries (throttling, 5xx, connection errors; exponential backoff with jitter)
# plus a client-side token bucket that slows this container's calls once AWS throttles them.
CLIENT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 5})


def is_transient(code: str | None, http_status: int | None) -> bool:
    return code in THROTTLED or code in AWS_SIDE or (http_status is not None and http_status >= 500)


def _operation(model: Any) -> str:
    return f"{model.service_model.service_name}:{model.name}"


def _name_refusals(parsed: dict[str, Any], model: Any, http_response: Any = None, **_: Any) -> None:
    error = parsed.get("Error") or {}
    code = error.get("Code")
    if code in ACCESS_DENIED:
        raise InsufficientPrivilege(
            f"The workflow's IAM role may not call {_operation(model)}: {error.get('Message', '')}. "
            "Check the function's role policy (see README: Deploy)"
        )
    status = getattr(http_response, "status_code", None)
    if error and is_transient(code, status):
        raise TransientFailure(
            f"AWS answered {_operation(model)} with {code or 'an error'} (HTTP {status}) after retries: "
            "throttled or failing on AWS's side. The workflow retries the step; if it keeps failing, check the "
            "AWS Health Dashboard and the account's API quotas, then start the execution again"
        )


def _name_connection_failures(exception: Exception, **_: Any) -> None:
    if isinstance(exception, CONNECTION_FAILURES):
        raise TransientFailure(
            f"No answer from the AWS endpoint ({type(exception).__name__}) after retries. The workflow retries the "
            "step; if it keeps failing, check the function's network path to AWS (VPC endpoints or NAT)"
        ) from exception


def named_errors(made: Any) -> Any:
    """Register the named-error hooks on a botocore client (tests pass their own clients)."""
    made.meta.events.register("after-call", _name_refusals)
    made.meta.events.register("after-call-error", _name_connection_failures)
    return made


# The credentials the clients sign with. On Lambda: None, boto3's default chain (the function's role).
# local/ runs every step in one process, each with its own role's access key (local/step_policies.py):
# it sets (key id, secret) here for the step's invocation, in the invoking thread's context only.
CREDENTIALS: ContextVar[tuple[str, str] | None] = ContextVar("CREDENTIALS", default=None)


def client(service: str) -> Any:
    return _client(service, CREDENTIALS.get())


# Bounded: on Lambda a handful (one per service); locally every step user of every test has its own.
@lru_cache(maxsize=64)
def _client(service: str, credentials: tuple[str, str] | None) -> Any:
    keys = dict(zip(("aws_access_key_id", "aws_secret_access_key"), credentials or (), strict=False))
    return named_errors(boto3.client(service, config=CLIENT_CONFIG, **keys))
