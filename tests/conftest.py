"""Shared fixtures: fake AWS credentials, the real PostgreSQL server, fresh databases."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.update(
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SECURITY_TOKEN="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_EC2_METADATA_DISABLED="true",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_LOG_LEVEL="WARNING",
    DB_TLS="disable",
)

from local.postgres_server import LocalPostgres, find_bin_dir


def share_botocore_data() -> None:
    """One botocore data loader for every session of the process: moto and the step-policy clients open
    new sessions all the time, and each loaded the service models and endpoints from JSON again (~15 ms
    a client, ~0.3 s a workflow test). The data is read-only once loaded; boto3 adds its own search path
    to each session's loader, once is enough."""
    import botocore.loaders
    import botocore.session

    class SearchPaths(list[str]):
        def append(self, path: str) -> None:
            if path not in self:
                super().append(path)

    loaders: dict[object, botocore.loaders.Loader] = {}
    create = botocore.loaders.create_loader

    def shared_loader(search_path_string: object = None) -> botocore.loaders.Loader:
        if search_path_string not in loaders:
            loader = create(search_path_string)
            loader._search_paths = SearchPaths(loader._search_paths)
            loaders[search_path_string] = loader
        return loaders[search_path_string]

    botocore.session.create_loader = shared_loader


share_botocore_data()

ROOT = Path(__file__).resolve().parent.parent
# Loaded by every process, the xdist controller included: it reports the step policies' usage.
pytest_plugins = ["tests.workflow.policy_report"]


@pytest.fixture(autouse=True)
def connections_as_on_rds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Database.connect to a local server first applies what RDS does implicitly (its
    rds_replication membership takes effect), as the local runner does for the workflow."""
    from lambdas.dal.database import Database
    from local.workflow_runner import connect_as_on_rds

    monkeypatch.setattr(Database, "connect", classmethod(connect_as_on_rds))


def _ensure_postgres() -> None:
    try:
        find_bin_dir()
    except FileNotFoundError:
        subprocess.run([str(ROOT / "scripts" / "ensure-postgres.sh")], check=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[LocalPostgres]:
    """One RDS-like server for the SQL tests (the master is no superuser, see local/postgres_server.py),
    already at wal_level=logical (reboots are the workflow tests' job)."""
    _ensure_postgres()
    server = LocalPostgres(settings={"wal_level": "logical"}).init().start()
    yield server
    server.destroy()


@pytest.fixture
def new_server() -> Iterator[LocalPostgres]:
    """A fresh RDS-like server at wal_level=replica, as a stock RDS instance is: for the workflow tests."""
    _ensure_postgres()
    server = LocalPostgres().init().start()
    yield server
    server.destroy()


@pytest.fixture
def self_managed_server() -> Iterator[LocalPostgres]:
    """A fresh self-managed server at wal_level=replica: the master is a superuser and there is no
    rds_replication, so the workflow takes the REPLICATION-attribute path."""
    _ensure_postgres()
    server = LocalPostgres(rds_like=False).init().start()
    yield server
    server.destroy()


class Names:
    """Per-test role and slot names: roles and slots are cluster-wide, databases are not."""

    def __init__(self) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.database = f"db_{suffix}"
        self.user = f"streamkap_user_{suffix}"
        self.role = f"streamkap_role_{suffix}"
        self.slot = f"streamkap_slot_{suffix}"
        self.publication = "streamkap_pub"


@pytest.fixture
def names(pg_server: LocalPostgres) -> Iterator[Names]:
    from pg8000.native import identifier

    chosen = Names()
    pg_server.create_database(chosen.database)
    yield chosen
    # Clean-up as the admin, as a test may leave roles the master may not drop (PG16+: not its own).
    conn = pg_server.connect_admin()
    try:
        # A test's connector (pg_recvlogical) may be stopped while its walsender still holds the slot
        # for a moment: end those sessions and wait until the slots are free, then drop them.
        deadline = time.monotonic() + 10
        while (
            conn.run(
                "SELECT count(pg_terminate_backend(active_pid)) FROM pg_replication_slots "
                "WHERE database = :d AND active_pid IS NOT NULL",
                d=chosen.database,
            )
            != [[0]]
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        conn.run(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = :d",
            d=chosen.database,
        )
    finally:
        conn.close()
    pg_server.drop_database(chosen.database)  # every major: WITH (FORCE) needs PG13
    conn = pg_server.connect_admin()
    try:
        for role in (chosen.user, chosen.role):
            conn.run(f"DROP ROLE IF EXISTS {identifier(role)}")
    finally:
        conn.close()
