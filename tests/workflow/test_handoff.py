"""What the DBA hands to Streamkap, from a real execution: the form, the CSV, the heartbeat table."""

from __future__ import annotations

import csv
import io
import json

import boto3
import pytest

from tests.workflow.test_live_connector import step_output

pytestmark = pytest.mark.workflow


def published(stack) -> list[str]:
    rows = stack.sql("SELECT schemaname || '.' || tablename FROM pg_publication_tables ORDER BY 1")
    return [row[0] for row in rows]


def test_the_connector_is_the_streamkap_form_and_the_heartbeat_is_chosen_by_the_server_by_default(stack):
    execution = stack.run()

    assert execution.status == "SUCCEEDED", execution.cause
    secret = boto3.client("secretsmanager").describe_secret(SecretId="rds-cdc-setup/orders-prod/streamkap_user")
    assert execution.output["connector"] == {
        "hostname": stack.server.host,
        "port": stack.server.port,
        "database": "orders",
        "username": "streamkap_user",
        "password_secret_arn": secret["ARN"],
        "signal_table_schema": "streamkap",
        "replication_slot_name": "streamkap_pgoutput_slot",
        "publication_name": "streamkap_pub",
        "snapshot_mode": "When Needed",
        "binary_handling_mode": "bytes",
        "snapshot_chunk_size": 1024,
        "max_batch_size": 2048,
    }
    # heartbeat "auto": logical messages where pgoutput carries them (14+), no table; the table below.
    messages = stack.server.major_version >= 14
    heartbeat_table = stack.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'streamkap_heartbeat'")
    assert heartbeat_table == [[0 if messages else 1]]
    own = ["streamkap.streamkap_signal"] + ([] if messages else ["streamkap.streamkap_heartbeat"])
    assert [table for table in published(stack) if table.startswith("streamkap.")] == own
    assert execution.output["verification"]["heartbeat_seen"] is True
    chosen = "logical messages, no heartbeat table" if messages else "table streamkap.streamkap_heartbeat"
    plan = step_output(execution, "Preflight")["preflight"]["plan"]
    assert any(line.startswith(f"heartbeat (auto): {chosen}") for line in plan)
    # The bulk-upload file: one table per row, no header, none of our own tables.
    rows = list(csv.reader(io.StringIO(execution.output["tables_csv"])))
    # PG10-12 cannot publish a partitioned table: its leaf partitions are listed instead.
    leaves = [["public.events_2025"], ["public.events_2026"]]
    events = [["public.events"]] if stack.server.major_version >= 13 else leaves
    assert rows == [["inventory.stock"], *events, ["public.items"], ["public.orders"]]

    # The same source for Streamkap's Terraform provider: the CSV's tables, the secret by reference only.
    [(label, source)] = execution.output["terraform"]["resource"]["streamkap_source_postgresql"].items()
    assert (source["database_hostname"], source["database_port"]) == (stack.server.host, stack.server.port)
    assert source["table_include_list"].split(",") == [row[0] for row in rows]
    assert source["schema_include_list"] == "inventory,public" and source["heartbeat_enabled"] is True
    # No table, no heartbeat schema: Streamkap's heartbeat without one (the provider's null).
    assert source["heartbeat_data_collection_schema_or_database"] == (None if messages else "streamkap")
    data = execution.output["terraform"]["data"]["aws_secretsmanager_secret_version"]
    assert data == {label: {"secret_id": secret["ARN"]}} and label in source["database_password"]
    password = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=secret["ARN"])["SecretString"])
    assert password["password"] not in json.dumps(execution.output)


def test_auto_keeps_the_heartbeat_table_an_earlier_setup_made(stack):
    """A connector configured with the table keeps working: "auto" does not switch it to messages."""
    assert stack.run(heartbeat="table").status == "SUCCEEDED"

    execution = stack.run()

    assert execution.status == "SUCCEEDED", execution.cause
    assert "streamkap.streamkap_heartbeat" in published(stack)
    assert execution.output["verification"]["heartbeat_seen"] is True
    plan = step_output(execution, "Preflight")["preflight"]["plan"]
    [line] = [line for line in plan if line.startswith("heartbeat (auto)")]
    reason = "an earlier setup made it" if stack.server.major_version >= 14 else "< 14"
    assert line.startswith("heartbeat (auto): table streamkap.streamkap_heartbeat (") and reason in line
    source = next(iter(execution.output["terraform"]["resource"]["streamkap_source_postgresql"].values()))
    assert source["heartbeat_data_collection_schema_or_database"] == "streamkap"


def test_without_heartbeat_only_the_signal_table_is_added_and_the_csv_lists_the_chosen_tables(stack):
    execution = stack.run(heartbeat=False, tables=["public.orders", "inventory.stock"])

    assert execution.status == "SUCCEEDED", execution.cause
    assert published(stack) == ["inventory.stock", "public.orders", "streamkap.streamkap_signal"]
    assert stack.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'streamkap_heartbeat'") == [[0]]
    assert "heartbeat_seen" not in execution.output["verification"]
    assert execution.output["tables_csv"] == "public.orders\ninventory.stock\n"
