"""A configured-by-us database on the real server, with moto holding the secrets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.dal.database import Database
from lambdas.dal.secrets import Credentials, Secrets
from lambdas.logic.database_apply import configure_database, create_slot
from lambdas.shared.models import ConfigureResult, SetupInput, SlotResult, Target
from local.postgres_server import LocalPostgres, for_major

pytestmark = pytest.mark.integration

SAMPLE_SCHEMA = """
CREATE SCHEMA inventory;
CREATE TABLE public.orders (id int PRIMARY KEY, customer text NOT NULL, total numeric(10,2));
CREATE TABLE public.items (order_id int, line int, sku text, PRIMARY KEY (order_id, line));
CREATE TABLE public.events (id bigint, at date NOT NULL, kind text, PRIMARY KEY (id, at))
    PARTITION BY RANGE (at);
CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE public.events_2026 PARTITION OF public.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE inventory.stock (sku text PRIMARY KEY, quantity int NOT NULL);
INSERT INTO public.orders VALUES (1, 'ada', 10.50), (2, 'grace', 99.00);
"""


def run_script(server: LocalPostgres, database: str, script: str) -> None:
    conn = server.connect(database)
    try:
        for statement in for_major(list(filter(str.strip, script.split(";"))), server.major_version):
            conn.run(statement)
    finally:
        conn.close()


@dataclass
class Harness:
    server: LocalPostgres
    database: str
    setup: SetupInput
    target: Target

    def master(self) -> Database:
        self.server.sync_rds_replication(connecting_as=self.server.master_user)  # as the local runner does
        return Database.connect(
            host=self.server.host,
            port=self.server.port,
            database=self.database,
            credentials=Credentials(self.server.master_user, self.server.master_password),
        )

    def configure(self, **overrides) -> ConfigureResult:
        setup = self.setup.model_copy(update=overrides) if overrides else self.setup
        with self.master() as db:
            return configure_database(db, Secrets(), setup, self.target)

    def replication(self) -> Database:
        """A master replication connection (replication=database), as CreateSlot's `replicate` opens."""
        self.server.sync_rds_replication(connecting_as=self.server.master_user)
        return Database.connect(
            host=self.server.host,
            port=self.server.port,
            database=self.database,
            credentials=Credentials(self.server.master_user, self.server.master_password),
            replication=True,
        )

    def create_slot(self) -> SlotResult:
        with self.master() as db:
            return create_slot(db, self.setup, self.target, self.master, self.replication)

    def user_credentials(self, secret_arn: str) -> Credentials:
        return Secrets().credentials(secret_arn)

    def as_user(self, secret_arn: str):
        creds = self.user_credentials(secret_arn)
        return self.server.connect(self.database, user=creds.username, password=creds.password)

    def sql(self, statement: str, **params):
        """As the master user (on the RDS-like server: no superuser)."""
        conn = self.server.connect(self.database)
        try:
            return conn.run(statement, **params)
        finally:
            conn.close()

    def admin_sql(self, statement: str, **params):
        """As the server's superuser (RDS's rdsadmin): for what no customer could do on RDS."""
        conn = self.server.connect_admin(self.database)
        try:
            return conn.run(statement, **params)
        finally:
            conn.close()


def local_setup(
    server: LocalPostgres, database: str, *, user: str, role: str, slot: str, master_secret_arn: str
) -> tuple[SetupInput, Target]:
    """The input and the Target DescribeTarget would give for a database on the local server."""
    setup = SetupInput(
        db_instance_identifier="local-test",
        database=database,
        schemas=["public", "inventory"],
        user_name=user,
        role_name=role,
        slot_name=slot,
        # Preflight's choice for "auto" below 14 or where our table exists: these tests call the steps' logic
        # directly, past Preflight (tests/integration/test_preflight.py covers "auto" itself)
        heartbeat="table",
    )
    target = Target(
        instance_id="local-test",
        engine="postgres",
        engine_version="15.4",
        major_version=15,
        status="available",
        parameter_group="custom",
        parameter_group_family="postgres15",
        parameter_apply_status="in-sync",
        host=server.host,
        port=server.port,
        database=database,
        master_secret_arn=master_secret_arn,
    )
    return setup, target


@contextmanager
def harness_on(server: LocalPostgres, database: str, **setup: Any) -> Iterator[Harness]:
    """A Harness on a server of the test's own (settings the shared one must not get), in moto."""
    with mock_aws():
        master = boto3.client("secretsmanager").create_secret(
            Name="master",
            SecretString=json.dumps({"username": server.master_user, "password": server.master_password}),
        )
        base, target = local_setup(
            server, database, user="cdc_user", role="cdc_role", slot="cdc_slot", master_secret_arn=master["ARN"]
        )
        yield Harness(server, database, base.model_copy(update=setup), target)


@pytest.fixture
def harness(pg_server: LocalPostgres, names) -> Iterator[Harness]:
    run_script(pg_server, names.database, SAMPLE_SCHEMA)
    with mock_aws():
        master_secret = boto3.client("secretsmanager").create_secret(
            Name="master",
            SecretString=json.dumps({"username": pg_server.master_user, "password": pg_server.master_password}),
        )
        setup, target = local_setup(
            pg_server,
            names.database,
            user=names.user,
            role=names.role,
            slot=names.slot,
            master_secret_arn=master_secret["ARN"],
        )
        yield Harness(pg_server, names.database, setup, target)
