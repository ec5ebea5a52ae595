"""`python -m cli --local` end to end: plan, setup, status, teardown, on the local stack it starts."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from local.postgres_server import find_bin_dir, server_version
from local.stack import CREDENTIALS, StackInfo, running
from local.workflow_runner import ROOT

pytestmark = pytest.mark.workflow
# The major the local stack runs (PG_MAJOR picks one from npm): it names the parameter group family.
MAJOR = int(server_version(find_bin_dir()).split(".")[0])


class Cli:
    def __init__(self, state_dir: Path, workdir: Path) -> None:
        self.state_dir, self.workdir = state_dir, workdir
        self.transcript = ""

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "RDS_CDC_LOCAL_DIR": str(self.state_dir), "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [sys.executable, "-m", "cli", *args], cwd=self.workdir, env=env, capture_output=True, text=True, timeout=180
        )
        self.transcript += done.stdout + done.stderr
        return done

    @property
    def stack(self) -> StackInfo:
        info = running(self.state_dir)
        assert info is not None
        return info

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.stack.endpoint, **CREDENTIALS)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    cli = Cli(tmp_path_factory.mktemp("local-stack"), tmp_path_factory.mktemp("workdir"))
    yield cli
    cli("stop-local")


def test_plan_shows_the_changes_and_starts_the_local_stack(cli):
    done = cli("plan", "--local")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Local stack started: PostgreSQL" in done.stdout
    assert "Plan (dry run, nothing changed):" in done.stdout
    assert f"  - create parameter group orders-prod-streamkap-cdc (family postgres{MAJOR})" in done.stdout
    assert "  - create replication slot streamkap_pgoutput_slot (pgoutput)" in done.stdout


def test_setup_follows_each_state_then_prints_the_form_and_writes_the_csv(cli):
    done = cli("setup", "--local", "--csv", "out/tables.csv", "--terraform", "out/streamkap_source.tf.json")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Local stack started" not in done.stdout  # the one plan started is reused
    for state in ("ValidateInput", "Preflight", "RebootInstance", "ConfigureDatabase", "CreateSlot", "Verify"):
        assert f"  ✓ {state} " in done.stdout, state
    form = {
        "Hostname": "127.0.0.1",
        "Username": "streamkap_user",
        "Signal Table Schema": "streamkap",
        "Database": "orders",
        "Replication Slot Name": "streamkap_pgoutput_slot",
        "Publication Name": "streamkap_pub",
    }
    for label, value in form.items():
        assert f"  {label:<34} {value}\n" in done.stdout, label
    for label, value in {
        "Snapshot Mode": "When Needed",
        "Snapshot Chunk Size": "1024",
        "Max Batch Size": "2048",
    }.items():
        assert f"    {label:<32} {value:<12} Streamkap's default" in done.stdout, label
    assert f"  {'Password (Secrets Manager secret)':<34} arn:aws:secretsmanager:us-east-1:" in done.stdout
    # PG10-12 cannot publish a partitioned table: its leaf partitions are listed instead.
    events = "order_events\n" if MAJOR >= 13 else "order_events_2026h1\npublic.order_events_2026h2\n"
    assert (cli.workdir / "out" / "tables.csv").read_text() == f"inventory.stock\npublic.{events}public.orders\n"
    terraform = json.loads((cli.workdir / "out" / "streamkap_source.tf.json").read_text())
    [source] = terraform["resource"]["streamkap_source_postgresql"].values()
    csv_rows = (cli.workdir / "out" / "tables.csv").read_text().splitlines()
    assert source["table_include_list"].split(",") == csv_rows and source["database_user"] == "streamkap_user"
    assert "Ready: the database is ready for Streamkap." in done.stdout


def test_alarms_lists_what_create_alarms_made_and_the_latest_slot_lag(cli):
    cli.client("cloudwatch").put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "OldestReplicationSlotLag",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "orders-prod"}],
                "Value": 5 * 1024**2,
                # a minute ago: moto truncates the query's EndTime to the second, so a point of this second is
                # outside it when the CLI asks within the same second (a flaky miss)
                "Timestamp": datetime.now(UTC) - timedelta(minutes=1),
            }
        ],
    )

    done = cli("alarms", "--local")

    assert done.returncode == 0, done.stdout + done.stderr
    listed = [line.split()[0] for line in done.stdout.splitlines() if line.startswith("  rds-cdc-setup-")]
    assert sorted(listed) == [
        f"rds-cdc-setup-orders-prod-{metric}"
        for metric in ("FreeStorageSpace", "OldestReplicationSlotLag", "TransactionLogsDiskUsage")
    ]
    # the threshold: half the WAL bound setup gave the instance's group (its small emulated storage)
    assert re.search(r"  OldestReplicationSlotLag > [0-9.]+ GiB, since ", done.stdout), done.stdout
    assert done.stdout.rstrip().endswith("UTC): 5.0 MiB")


def test_status_shows_the_latest_execution_and_its_result(cli):
    done = cli("status", "--local")

    assert done.returncode == 0, done.stdout + done.stderr
    [latest] = [line for line in done.stdout.splitlines() if line.strip().startswith("setup-")][:1]
    assert "SUCCEEDED" in latest
    assert "    Snapshot Chunk Size              1024" in done.stdout


def test_check_prints_each_finding_on_its_line_and_exits_1(cli):
    # Given the prepared sample database, whose slot no connector reads yet
    done = cli("check", "--local")

    assert done.returncode == 1, done.stdout + done.stderr
    assert "  ✓ CheckDatabase " in done.stdout and "AcquireCheckLock" not in done.stdout
    lines = [line for line in done.stdout.splitlines() if line.startswith("slot_inactive ")]
    assert lines and lines[0].startswith("slot_inactive streamkap_pgoutput_slot: nothing streams from")
    assert "1 finding(s): slot_inactive 1." in done.stdout


def test_plan_for_a_self_managed_host_reaches_the_workflow_without_rds(cli):
    # The local stack has one RDS instance, no Aurora cluster: a cluster cannot run end to end here.
    # Its PostgreSQL, now at wal_level=logical after setup, serves as a self-managed server instead.
    host, port = cli.stack.postgres.rsplit(" ", 1)[-1].split(":")
    master = cli.client("rds").describe_db_instances(DBInstanceIdentifier="orders-prod")["DBInstances"][0]
    secret = master["MasterUserSecret"]["SecretArn"]

    # Its own CDC objects: the setup's streamkap_user has its secret under the instance's name, not this
    # server's (the workflow never re-passwords a user whose secret it does not have), and its slot is
    # recorded for that user.
    names = json.dumps(
        {
            "user_name": "cdc_self_managed",
            "role_name": "cdc_self_managed_role",
            "publication_name": "cdc_self_managed_pub",
            "slot_name": "cdc_self_managed_slot",
        }
    )
    done = cli(
        "plan", "--local", "--host", host, "--port", port, "--master-secret-arn", secret, "--database", "orders",
        "--input", names,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    assert "  ✓ DescribeSelfManagedTarget " in done.stdout
    assert " DescribeTarget " not in done.stdout  # the defaults' instance was not sent beside the host
    assert "Plan (dry run, nothing changed):" in done.stdout

    [name] = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("Execution ")]
    by_host = cli("status", "--local", "--host", host, "--port", port)
    by_instance = cli("status", "--local", "-i", "orders-prod")
    assert [line.split()[0] for line in by_host.stdout.splitlines() if "SUCCEEDED" in line] == [name]
    listed = [line.split()[0] for line in by_instance.stdout.splitlines() if "SUCCEEDED" in line]
    assert name not in listed and [n.split("-")[0] for n in listed] == ["setup", "plan"]


def test_fleet_plans_the_local_instance_through_the_fleet_workflow(cli):
    # After the tests that read the latest setup executions: the fleet's own is one of them.
    done = cli("fleet", "--local", "--dry-run")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "  ✓ ResolveFleet " in done.stdout
    assert "Fleet of 1 instance(s): DryRun 1" in done.stdout
    assert f"  ✓ {'orders-prod':<28} DryRun\n" in done.stdout
    assert done.stdout.rstrip().endswith("Succeeded")


def test_teardown_all_removes_what_setup_created(cli):
    done = cli("teardown", "--local", "--all")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "  - drop replication slot streamkap_pgoutput_slot" in done.stdout
    assert "  - drop role streamkap_user" in done.stdout
    assert "Removed: Everything chosen is gone." in done.stdout
    slots = cli.client("rds").describe_db_instances(DBInstanceIdentifier="orders-prod")["DBInstances"][0]
    assert slots["DBParameterGroups"][0]["DBParameterGroupName"] == f"default.postgres{MAJOR}"
    assert cli.client("secretsmanager").list_secrets()["SecretList"][0]["Name"].startswith("rds!")  # only the master's

    status = cli("status", "--local")
    assert "Removed: Everything chosen is gone." in status.stdout
    assert "  No alarms of rds-cdc-setup" in cli("alarms", "--local").stdout


def test_no_secret_value_was_ever_printed(cli):
    sm = cli.client("secretsmanager")
    master = cli.client("rds").describe_db_instances(DBInstanceIdentifier="orders-prod")["DBInstances"][0]
    password = json.loads(sm.get_secret_value(SecretId=master["MasterUserSecret"]["SecretArn"])["SecretString"])
    assert password["password"] not in cli.transcript


def test_stop_local_throws_the_stack_away(cli):
    host, port = cli.stack.postgres.rsplit(" ", 1)[-1].split(":")
    endpoint = cli.stack.endpoint.removeprefix("http://").split(":")

    done = cli("stop-local")

    assert done.stdout.strip() == "Local stack stopped."
    assert running(cli.state_dir) is None
    for address in ((host, int(port)), (endpoint[0], int(endpoint[1]))):  # PostgreSQL and the moto server
        with pytest.raises(ConnectionRefusedError), socket.create_connection(address, timeout=2):
            pass
