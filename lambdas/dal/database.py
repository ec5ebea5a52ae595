"""The database port: a small wrapper over a pg8000 native connection.

Errors are mapped to named workflow errors at connect time; statements run with named
parameters (`:name`), identifiers are quoted by `lambdas.dal.sql` only."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
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
    WorkflowError,
)
from lambdas.shared.settings import environment

# SQLSTATE -> the named error a DBA acts on; other server errors surface as they are.
NAMED_SQLSTATES: dict[str, type[WorkflowError]] = {
    "42501": InsufficientPrivilege,  # insufficient_privilege
    "53200": CapacityExhausted,  # out_of_memory: "out of shared memory", the lock table is full
    "3D000": InvalidInput,  # invalid_catalog_name: no such database
    "53300": CapacityExhausted,  # too_many_connections
    "53400": CapacityExhausted,  # configuration_limit_exceeded: all replication slots in use
    "55P03": LongTransactionBlocking,  # lock_not_available: lock_timeout expired
    "57014": LongTransactionBlocking,  # query_canceled: statement_timeout while waiting
}


def server_error(error: DatabaseError) -> tuple[str | None, str]:
    """(SQLSTATE, message) of a server error; pg8000 puts the fields in args[0]."""
    fields = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    return fields.get("C"), fields.get("M", type(error).__name__)


def named(error: DatabaseError, context: str) -> Exception:
    code, message = server_error(error)
    named_class = NAMED_SQLSTATES.get(code or "")
    if not named_class:
        return error
    hint = error.args[0].get("H") if isinstance(error.args[0], dict) else None  # e.g. which setting to raise
    return named_class(f"{context}: {message} (SQLSTATE {code})" + (f". {hint}" if hint else ""))


CA_BUNDLE = Path(__file__).resolve().parent.parent / "certs" / "rds-global-bundle.pem"


def _ssl_context() -> ssl.SSLContext | bool:
    if environment().db_tls == "disable":
        # False, not None: pg8000 takes None as "prefer", trying TLS without verifying the server
        # and loading the system CA paths at every connection (~25 ms, bench/wal_backlog.py).
        return False
    context = ssl.create_default_context(cafile=str(CA_BUNDLE) if CA_BUNDLE.exists() else None)
    context.check_hostname = True
    return context


class Database:
    def __init__(self, connection: pg8000.native.Connection) -> None:
        self._conn = connection

    @classmethod
    def connect(cls, *, host: str, port: int, database: str, credentials: Credentials) -> Database:
        try:
            connection = pg8000.native.Connection(
                user=credentials.username,
                password=credentials.password,
                host=host,
                port=port,
                database=database,
                ssl_context=_ssl_context(),
                timeout=environment().db_connect_timeout_seconds,
                application_name="rds-cdc-setup",
            )
        except DatabaseError as error:
            code, message = server_error(error)
            if code == "3D000":
                raise InvalidInput(f"Database {database!r} does not exist on {host}:{port}: check `database`") from None
            raise DatabaseUnreachable(
                f"Cannot log in to database {database!r} on {host}:{port} as {credentials.username!r}: "
                f"{message}. Check the database name and that the secret's password is current"
            ) from None
        except (InterfaceError, OSError, TimeoutError) as error:
            raise DatabaseUnreachable(
                f"Cannot reach {host}:{port} ({type(error).__name__}). Check that the Lambda's "
                "security group may reach the database's port and that the instance is available"
            ) from None
        return cls(connection)

    def rows(self, sql: str, **params: Any) -> list[list[Any]]:
        try:
            return self._conn.run(sql, **params) or []
        except DatabaseError as error:
            raise named(error, " ".join(sql.split()[:3])) from None

    def row(self, sql: str, **params: Any) -> list[Any] | None:
        found = self.rows(sql, **params)
        return found[0] if found else None

    def value(self, sql: str, **params: Any) -> Any:
        found = self.row(sql, **params)
        return found[0] if found else None

    def execute(self, sql: str, **params: Any) -> None:
        self.rows(sql, **params)

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        self._conn.run("BEGIN")
        try:
            yield self
        except BaseException:
            with suppress(DatabaseError, InterfaceError, OSError):  # a lost connection rolls back by itself
                self._conn.run("ROLLBACK")
            raise
        self._conn.run("COMMIT")

    def close(self) -> None:
        with suppress(InterfaceError, OSError):
            self._conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
