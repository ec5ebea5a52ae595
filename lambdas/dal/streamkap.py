"""The Streamkap API port: the calls Streamkap's Terraform provider makes (streamkap-com/
terraform-provider-streamkap, internal/api: auth.go, source.go, client.go), with its request and
response shapes, over the standard library (no HTTP dependency in the Lambda code).

- POST {base}/auth/access-token {"client_id", "secret"} -> {"accessToken", "expiresIn", ...};
  every later call sends `Authorization: Bearer <accessToken>`.
- GET {base}/sources?secret_returned=true&page=N&page_size=100&partial_name=<name>
  -> {"total", "page_size", "page", "result": [source]}: there is no exact-name filter, so the
  name is matched here, over every page (the provider's adoptSourceByName).
- GET {base}/sources/{id}?secret_returned=true -> {"result": [source]}
- POST {base}/sources?secret_returned=true&wait=false {"name", "connector", "config"} -> source
- PUT {base}/sources/{id}?secret_returned=true&wait=false {"name", "connector", "config"} -> source
A source is {"id", "name", "connector", "connector_status", "config": {<API config key>: value}}.

Errors, by status as the provider classifies them (client.go APIError, retry.go): 401/403
StreamkapAuthFailed; 409 StreamkapConflict; 429/502/503/504, timeouts and refused connections
TransientFailure (the state machine retries it); anything else StreamkapApiFailed. Messages carry
the method, path, status and the API's `detail` with every secret the client knows blanked out:
never a request body (it holds the database password), never the token."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from lambdas.shared.errors import StreamkapApiFailed, StreamkapAuthFailed, StreamkapConflict, TransientFailure

PAGE_SIZE = 100  # the API's largest page
MAX_PAGES = 1000  # as the provider: a safeguard against a server that always answers full pages
RETRYABLE_STATUSES = {429, 502, 503, 504}  # retry.go isRetryableStatus
DETAIL_LIMIT = 300


@dataclass(frozen=True)
class Source:
    id: str
    name: str
    connector: str
    connector_status: str
    config: dict[str, Any] = field(repr=False)  # holds the database password (secret_returned=true)

    @classmethod
    def parse(cls, body: Any) -> Source:
        if not isinstance(body, dict) or not body.get("id") or not isinstance(body.get("config", {}), dict):
            raise StreamkapApiFailed("Streamkap's API answered a source without an id, or a config that is no object")
        return cls(
            id=str(body["id"]),
            name=str(body.get("name") or ""),
            connector=str(body.get("connector") or ""),
            connector_status=str(body.get("connector_status") or ""),
            config=dict(body.get("config") or {}),
        )


class StreamkapApi:
    def __init__(self, base_url: str, *, timeout_seconds: float) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout_seconds
        self._token: str | None = None
        self._secrets: list[str] = []  # blanked out of every message

    def __repr__(self) -> str:
        return f"StreamkapApi({self._base!r})"

    def keep_out_of_messages(self, *values: str) -> None:
        self._secrets.extend(value for value in values if value)

    def authenticate(self, client_id: str, client_secret: str) -> None:
        self.keep_out_of_messages(client_id, client_secret)
        token = self._call("POST", "/auth/access-token", {"client_id": client_id, "secret": client_secret})
        if not isinstance(token, dict) or not isinstance(token.get("accessToken"), str) or not token["accessToken"]:
            raise StreamkapAuthFailed("Streamkap's API answered the access-token request without an accessToken")
        self._token = token["accessToken"]
        self.keep_out_of_messages(self._token)

    def find_source(self, name: str) -> Source | None:
        """The source named exactly `name`, or None."""
        for page in range(1, MAX_PAGES + 1):
            query = urllib.parse.urlencode(
                {"secret_returned": "true", "page": page, "page_size": PAGE_SIZE, "partial_name": name}
            )
            listed = self._call("GET", f"/sources?{query}")
            result = listed.get("result") if isinstance(listed, dict) else None
            if not isinstance(result, list):
                raise StreamkapApiFailed("Streamkap's API answered GET /sources without a result list")
            for source in result:
                if isinstance(source, dict) and source.get("name") == name:
                    return Source.parse(source)
            if len(result) < PAGE_SIZE:
                break
        return None

    def get_source(self, source_id: str) -> Source | None:
        got = self._call("GET", f"/sources/{urllib.parse.quote(source_id, safe='')}?secret_returned=true")
        result = got.get("result") if isinstance(got, dict) else None
        return Source.parse(result[0]) if isinstance(result, list) and result else None

    def create_source(self, name: str, connector: str, config: dict[str, Any]) -> Source:
        body = {"name": name, "connector": connector, "config": config}
        return Source.parse(self._call("POST", "/sources?secret_returned=true&wait=false", body))

    def update_source(self, source_id: str, name: str, connector: str, config: dict[str, Any]) -> Source:
        body = {"name": name, "connector": connector, "config": config}
        path = f"/sources/{urllib.parse.quote(source_id, safe='')}?secret_returned=true&wait=false"
        return Source.parse(self._call("PUT", path, body))

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        what = f"{method} {path.partition('?')[0]}"
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self._base + path, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310 - the input's URL
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise self._refusal(what, error.code, error.read()) from None
        except TimeoutError as error:
            raise TransientFailure(
                f"Streamkap's API did not answer {what} within {self._timeout:g}s ({type(error).__name__}); retried"
            ) from None
        except (urllib.error.URLError, ConnectionError, OSError) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, TimeoutError | socket.timeout):
                raise TransientFailure(
                    f"Streamkap's API did not answer {what} within {self._timeout:g}s; retried"
                ) from None
            raise TransientFailure(
                f"No connection to Streamkap's API for {what} ({type(reason).__name__}): check the function's "
                "network path to the internet (RegisterSource runs outside the VPC) and streamkap_api_url"
            ) from None
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise StreamkapApiFailed(f"Streamkap's API answered {what} with a body that is not JSON") from None

    def _refusal(self, what: str, status: int, raw: bytes) -> Exception:
        detail = self._detail(raw)
        said = f"Streamkap's API answered {what} with HTTP {status}" + (f": {detail}" if detail else "")
        if status in (401, 403):
            return StreamkapAuthFailed(
                f"{said}. Check the client id and secret in streamkap_api_secret_arn (Streamkap: Settings, API "
                "tokens) and streamkap_api_url"
            )
        if status == 409:
            return StreamkapConflict(f"{said}. Another change to the source is under way; start the execution again")
        if status in RETRYABLE_STATUSES:
            return TransientFailure(f"{said}; retried")
        return StreamkapApiFailed(said)

    def _detail(self, raw: bytes) -> str:
        """The API's `detail` (a string, or FastAPI's list of {loc, msg}: never their `input`, which
        may echo the password), short, with the secrets blanked out."""
        try:
            detail = json.loads(raw).get("detail")
        except (ValueError, AttributeError):
            return ""
        if isinstance(detail, list):
            items = [item for item in detail if isinstance(item, dict)]
            detail = "; ".join(f"{'.'.join(map(str, item.get('loc', [])))}: {item.get('msg', '')}" for item in items)
        text = str(detail or "")[:DETAIL_LIMIT]
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text
