"""A local stand-in of Streamkap's API: the endpoints RegisterSource calls, with the request and
response shapes of Streamkap's Terraform provider (lambdas/dal/streamkap.py lists them), on
127.0.0.1 in a thread. It checks the client credentials and the bearer token, stores sources, and
runs each source's "connector": pg_recvlogical from the local server's binaries, streaming the slot
and publication of the source's config as its user and password, confirming what it reads every
second, so the slot's confirmed_flush_lsn really moves. connector_status is Starting until
pg_recvlogical streams the slot, then Active; Broken once it exited.

Tests make it answer an error (`fail_next`) or hang past the client's timeout (`hang_next`). `close()`
(or leaving the `with` block) stops every connector and the server; a connector also ends on its own
when its database server stops (--no-loop), which the suite's reaper does for a test process that died."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local.postgres_server import LocalPostgres

CLIENT_ID = "local-client"
CLIENT_SECRET = "local-client-secret"  # noqa: S105 - the stand-in's own, for local runs only


@dataclass
class StoredSource:
    id: str
    name: str
    connector: str
    config: dict[str, Any]
    process: subprocess.Popen | None = None

    def as_json(self, status: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "connector": self.connector,
            "connector_status": status,
            "config": self.config,
        }


@dataclass
class Failure:
    status: int  # 0: hang instead of answering
    detail: str
    seconds: float = 0
    on: str | None = None  # "METHOD /path" it answers; None: the next request, whichever


@dataclass
class StreamkapStandIn:
    server: LocalPostgres | None  # None: no connectors (tests of the HTTP side alone)
    clients: dict[str, str] = field(default_factory=lambda: {CLIENT_ID: CLIENT_SECRET})
    sources: dict[str, StoredSource] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of each request
    _tokens: set[str] = field(default_factory=set)
    _failures: list[Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _http: ThreadingHTTPServer | None = None
    _workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="streamkap-standin-")))
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        assert self._http is not None, "start() it first"
        port = self._http.server_address[1]
        return f"http://127.0.0.1:{port}/api"

    def start(self) -> StreamkapStandIn:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:  # quiet: tests read `requests`
                pass

            def do_GET(self) -> None:
                stand_in._serve(self, "GET")

            def do_POST(self) -> None:
                stand_in._serve(self, "POST")

            def do_PUT(self) -> None:
                stand_in._serve(self, "PUT")

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def __enter__(self) -> StreamkapStandIn:
        return self.start() if self._http is None else self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        for source in self.sources.values():
            self._stop_connector(source)
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        shutil.rmtree(self._workdir, ignore_errors=True)

    # ---- what tests arrange and read ----------------------------------------------------------------

    def fail_next(self, status: int, detail: str = "stand-in failure", *, on: str | None = None) -> None:
        """The next request (the next `on`, "METHOD /path", where given) answers `status` with {"detail": detail}."""
        with self._lock:
            self._failures.append(Failure(status, detail, on=on))

    def hang_next(self, seconds: float, *, on: str | None = None) -> None:
        """The next request (the next `on`, where given) gets no answer for `seconds` (then a 504)."""
        with self._lock:
            self._failures.append(Failure(0, "hung", seconds, on=on))

    def writes(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path in self.requests if method in ("POST", "PUT") and "/auth/" not in path]

    def status(self, source: StoredSource) -> str:
        process = source.process
        if process is None:
            return "Stopped"
        if process.poll() is not None:
            return "Broken"
        return "Active" if self._streams(source) else "Starting"

    # ---- the HTTP side --------------------------------------------------------------------------------

    def _serve(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parsed = urllib.parse.urlsplit(request.path)
        path, query = parsed.path, urllib.parse.parse_qs(parsed.query)
        self.requests.append((method, path))
        length = int(request.headers.get("Content-Length") or 0)
        body = json.loads(request.rfile.read(length)) if length else None
        with self._lock:
            failure = next((f for f in self._failures if f.on in (None, f"{method} {path}")), None)
            if failure is not None:
                self._failures.remove(failure)
        if failure is not None:
            if failure.status == 0:
                time.sleep(failure.seconds)
                return self._answer(request, 504, {"detail": "gateway timeout"})
            return self._answer(request, failure.status, {"detail": failure.detail})
        status, answer = self._route(request, method, path, query, body)
        self._answer(request, status, answer)

    def _answer(self, request: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            request.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a hang test)
            pass

    def _route(
        self, request: BaseHTTPRequestHandler, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        if (method, path) == ("POST", "/api/auth/access-token"):
            if not isinstance(body, dict) or self.clients.get(str(body.get("client_id"))) != body.get("secret"):
                return 401, {"detail": "Invalid client credentials"}
            token = uuid.uuid4().hex
            self._tokens.add(token)
            return 200, {"accessToken": token, "expires": "", "expiresIn": 3600, "refreshToken": uuid.uuid4().hex}
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self._tokens:
            return 401, {"detail": "Not authenticated"}
        if path == "/api/sources" and method == "GET":
            return 200, self._list(query)
        if path == "/api/sources" and method == "POST":
            return self._create(body)
        source_id = path.removeprefix("/api/sources/")
        if path.startswith("/api/sources/") and source_id in self.sources:
            source = self.sources[source_id]
            if method == "GET":
                return 200, {"total": 1, "page_size": 10, "page": 1, "result": [source.as_json(self.status(source))]}
            if method == "PUT":
                return self._update(source, body)
        return 404, {"detail": f"{path} not found"}

    def _list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        partial = (query.get("partial_name") or [""])[0]
        page, size = int((query.get("page") or ["1"])[0]), int((query.get("page_size") or ["10"])[0])
        matching = [s for s in self.sources.values() if partial in s.name]
        shown = matching[(page - 1) * size : page * size]
        return {
            "total": len(matching),
            "page_size": size,
            "page": page,
            "result": [s.as_json(self.status(s)) for s in shown],
        }

    def _create(self, body: Any) -> tuple[int, Any]:
        problem = self._invalid(body)
        if problem:
            return 422, {"detail": problem}
        if any(s.name == body["name"] for s in self.sources.values()):
            return 409, {"detail": f"Source with name {body['name']} already exists"}
        source = StoredSource(id=f"src-{next(self._ids)}", name=body["name"], connector="postgresql", config={})
        self.sources[source.id] = source
        return self._update(source, body)

    def _update(self, source: StoredSource, body: Any) -> tuple[int, Any]:
        problem = self._invalid(body)
        if problem:
            return 422, {"detail": problem}
        source.name, source.config = body["name"], dict(body["config"])
        self._stop_connector(source)
        self._start_connector(source)
        return 200, source.as_json(self.status(source))

    @staticmethod
    def _invalid(body: Any) -> str | None:
        if not isinstance(body, dict) or not isinstance(body.get("config"), dict) or not body.get("name"):
            return "name, connector and config are required"
        if body.get("connector") != "postgresql":
            return f"connector {body.get('connector')!r} is not served by the stand-in"
        required = ["database.hostname.user.defined", "database.user", "database.password", "slot.name"]
        missing = [key for key in required if not body["config"].get(key)]
        return f"config lacks {', '.join(missing)}" if missing else None

    # ---- the connector: pg_recvlogical ------------------------------------------------------------------

    def _start_connector(self, source: StoredSource) -> None:
        if self.server is None:
            return
        config = source.config
        self.server.sync_rds_replication()  # as RDS would: rds_replication membership lets the user stream
        output = self._workdir / f"{source.id}.out"
        source.process = subprocess.Popen(
            [
                str(self.server.client_tool("pg_recvlogical")),
                *("-h", str(config["database.hostname.user.defined"])),
                *("-p", str(config.get("database.port.user.defined") or 5432)),
                *("-U", str(config["database.user"]), "-d", str(config["database.dbname"])),
                *("--slot", str(config["slot.name"]), "--start", "--no-loop", "-f", str(output)),
                *("--status-interval", "1", "--fsync-interval", "1"),
                *("-o", "proto_version=1", "-o", f"publication_names={config.get('publication.name')}"),
            ],
            env={**os.environ, "PGPASSWORD": str(config["database.password"])},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _stop_connector(self, source: StoredSource) -> None:
        process, source.process = source.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _streams(self, source: StoredSource) -> bool:
        """Is the source's pg_recvlogical the process streaming its slot?"""
        if self.server is None:
            return False
        conn = self.server.connect_admin(str(source.config["database.dbname"]))
        try:
            rows = conn.run(
                "SELECT active FROM pg_replication_slots WHERE slot_name = :s", s=str(source.config["slot.name"])
            )
        finally:
            conn.close()
        return bool(rows and rows[0][0])
