"""The teardown of an Aurora cluster and of a self-managed server, after a real setup of each."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from local.postgres_server import LocalPostgres
from local.workflow_runner import LocalWorkflow
from tests.integration.conftest import SAMPLE_SCHEMA, run_script
from tests.workflow.test_aurora import CLUSTER, CUSTOM_GROUP, ClusterStack, make_cluster
from tests.workflow.test_teardown import EVERYTHING, TEARDOWN_ASL

pytestmark = pytest.mark.workflow

CDC_OBJECTS = """SELECT (SELECT count(*) FROM pg_replication_slots),
                        (SELECT count(*) FROM pg_publication),
                        (SELECT count(*) FROM pg_namespace WHERE nspname = 'streamkap'),
                        (SELECT count(*) FROM pg_roles WHERE rolname IN ('streamkap_user', 'streamkap_role'))"""


def secret_names() -> list[str]:
    return sorted(s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"])


@pytest.fixture
def aurora(new_server: LocalPostgres) -> Iterator[ClusterStack]:
    yield from make_cluster(new_server)


def test_an_aurora_teardown_removes_everything_and_gives_the_cluster_its_default_group_back(aurora):
    setup = aurora.run()
    assert setup.status == "SUCCEEDED", setup.cause
    assert aurora.cluster()["DBClusterParameterGroup"] == CUSTOM_GROUP

    with LocalWorkflow(asl_file=TEARDOWN_ASL) as teardown:
        dry = teardown.run({"db_cluster_identifier": CLUSTER, "dry_run": True, **EVERYTHING})
        removed = teardown.run({"db_cluster_identifier": CLUSTER, **EVERYTHING})

    assert dry.status == "SUCCEEDED" and dry.output["plan"][-1].startswith(
        f"attach parameter group default.aurora-postgresql15 to cluster {CLUSTER}"
    )
    assert removed.status == "SUCCEEDED", removed.cause
    assert removed.output["changes"][-1] == dry.output["plan"][-1]
    assert f"the instances of cluster {CLUSTER}" in removed.output["message"]
    assert aurora.cluster()["DBClusterParameterGroup"] == "default.aurora-postgresql15"
    assert aurora.sql(CDC_OBJECTS) == [[0, 0, 0, 0]]
    assert f"rds-cdc-setup/{CLUSTER}/streamkap_user" not in secret_names()


@pytest.fixture
def self_managed(self_managed_server: LocalPostgres) -> Iterator[dict]:
    self_managed_server.restart(wal_level="logical")
    self_managed_server.create_database("orders")
    run_script(self_managed_server, "orders", SAMPLE_SCHEMA)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        master = boto3.client("secretsmanager").create_secret(
            Name="self-managed/orders-master",
            SecretString=json.dumps(
                {"username": self_managed_server.master_user, "password": self_managed_server.master_password}
            ),
        )
        target = {"host": self_managed_server.host, "port": self_managed_server.port, "database": "orders"}
        with LocalWorkflow() as setup:
            execution = setup.run({**target, "schemas": ["public"], "master_secret_arn": master["ARN"]})
        assert execution.status == "SUCCEEDED", execution.cause
        yield {**target, "master_secret_arn": master["ARN"], "server": self_managed_server}


def test_a_self_managed_teardown_removes_the_objects_and_the_secret_without_any_rds_call(self_managed):
    server = self_managed.pop("server")
    assert len(secret_names()) == 2  # the master's and the user's

    with LocalWorkflow(asl_file=TEARDOWN_ASL) as teardown:
        refused = teardown.run({**self_managed, **EVERYTHING})
        removed = teardown.run({**self_managed, **{**EVERYTHING, "revert_parameter_group": False}})

    assert (refused.status, refused.error) == ("FAILED", "InvalidInput")
    assert "ALTER SYSTEM SET wal_level" in refused.cause
    assert removed.status == "SUCCEEDED", removed.cause
    # No RDS at all: the target came from the input alone (an RDS lookup would have failed the run).
    assert boto3.client("rds").describe_db_instances()["DBInstances"] == []
    conn = server.connect("orders")
    try:
        assert conn.run(CDC_OBJECTS) == [[0, 0, 0, 0]]
    finally:
        conn.close()
    assert secret_names() == ["self-managed/orders-master"]
