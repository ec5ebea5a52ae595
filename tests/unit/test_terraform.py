"""The prepared source as a Streamkap Terraform provider `.tf.json` (lambdas/logic/terraform.py)."""

from __future__ import annotations

import json

import pytest

from lambdas.logic.terraform import TABLES_FROM_CSV_FILE, terraform_document, terraform_label
from lambdas.shared.models import Connector, SetupInput

# streamkap_source_postgresql's attributes (terraform-provider-streamkap, internal/generated/source_postgresql.go):
# the required ones, and every one a configuration may set (computed-only ones left out). The heartbeat's schema
# is optional in the provider's v3 (null with heartbeat_enabled: its "Kafka-only" heartbeat, no table needed).
REQUIRED = {
    "name", "database_hostname", "database_user", "database_password", "database_dbname",
    "signal_data_collection_schema_or_database", "schema_include_list", "table_include_list",
}  # fmt: skip
SETTABLE = REQUIRED | {
    "heartbeat_data_collection_schema_or_database",
    "database_port", "snapshot_read_only", "column_include_list_toggled", "source_regex_support_enabled",
    "column_include_list", "column_exclude_list", "heartbeat_enabled", "slot_name", "publication_name",
    "database_sslmode", "include_source_db_name_in_table_name", "binary_handling_mode",
    "streamkap_snapshot_parallelism", "streamkap_snapshot_large_table_threshold", "ssh_enabled", "ssh_host",
    "ssh_port", "ssh_user", "ssh_public_key",
}  # fmt: skip
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds-cdc-setup/orders-prod/streamkap_user-AbCdEf"


def connector(**overrides) -> Connector:
    fields = {
        "hostname": "orders-prod.abc.us-east-1.rds.amazonaws.com", "port": 5432, "database": "orders",
        "username": "streamkap_user", "password_secret_arn": SECRET_ARN, "signal_table_schema": "streamkap",
        "replication_slot_name": "streamkap_pgoutput_slot", "publication_name": "streamkap_pub",
    }  # fmt: skip
    return Connector(**(fields | overrides))


def document(tables_csv: str | None = "public.orders\ninventory.stock\n", **setup) -> dict:
    given = SetupInput(**({"db_instance_identifier": "orders-prod", "schemas": ["public", "inventory"]} | setup))
    return terraform_document(given, connector(), tables_csv)


def the_source(doc: dict) -> tuple[str, dict]:
    [(label, attributes)] = doc["resource"]["streamkap_source_postgresql"].items()
    return label, attributes


def test_the_resource_sets_every_required_attribute_and_only_the_providers():
    label, attributes = the_source(document(heartbeat="table"))
    assert REQUIRED <= attributes.keys() <= SETTABLE
    assert label == "orders-prod_orders" and attributes["name"] == "orders-prod/orders"
    assert attributes | {"database_password": None} == {
        "name": "orders-prod/orders",
        "database_hostname": "orders-prod.abc.us-east-1.rds.amazonaws.com",
        "database_port": 5432,
        "database_user": "streamkap_user",
        "database_password": None,
        "database_dbname": "orders",
        "database_sslmode": "require",
        "schema_include_list": "inventory,public",
        "table_include_list": "public.orders,inventory.stock",
        "signal_data_collection_schema_or_database": "streamkap",
        "heartbeat_enabled": True,
        "heartbeat_data_collection_schema_or_database": "streamkap",
        "slot_name": "streamkap_pgoutput_slot",
        "publication_name": "streamkap_pub",
        "binary_handling_mode": "bytes",
        "snapshot_read_only": "No",
    }


def test_the_password_is_a_reference_to_the_users_secret_never_a_value():
    doc = document()
    label, attributes = the_source(doc)
    assert doc["data"] == {"aws_secretsmanager_secret_version": {label: {"secret_id": SECRET_ARN}}}
    assert attributes["database_password"] == (
        f'${{jsondecode(data.aws_secretsmanager_secret_version.{label}.secret_string)["password"]}}'
    )
    assert set(doc["terraform"]["required_providers"]) == {"streamkap", "aws"}
    assert json.loads(json.dumps(doc)) == doc  # plain JSON: written as is as a .tf.json


def test_a_list_too_large_for_the_output_is_read_from_the_tables_csv_file():
    _, attributes = the_source(document(tables_csv=None))
    assert attributes["table_include_list"] == TABLES_FROM_CSV_FILE
    assert 'file("${path.module}/tables.csv")' in TABLES_FROM_CSV_FILE
    assert attributes["schema_include_list"] == "public,inventory"  # the input's schemas, in its order


@pytest.mark.parametrize(
    ("heartbeat", "enabled", "schema"),
    [("table", True, "streamkap"), ("message", True, None), ("off", False, None), (False, False, None)],
)
def test_only_the_heartbeat_table_names_a_heartbeat_schema(heartbeat, enabled, schema):
    """Message heartbeats need no table: the provider's heartbeat without a schema (null)."""
    attributes = the_source(document(heartbeat=heartbeat))[1]
    assert attributes["heartbeat_enabled"] is enabled
    assert attributes["heartbeat_data_collection_schema_or_database"] == schema


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("orders-prod/orders", "orders-prod_orders"),
        ("pg.internal.example.com:5432/orders", "pg_internal_example_com_5432_orders"),
        ("10.0.0.7:5433/orders", "_10_0_0_7_5433_orders"),
        ("Orders_Aurora/db", "Orders_Aurora_db"),
    ],
)
def test_labels_are_terraform_identifiers(name, label):
    assert terraform_label(name) == label


def test_a_self_managed_source_is_named_by_its_server_and_database_once():
    given = SetupInput(host="pg.internal.example.com", port=5433, database="orders", master_secret_arn=SECRET_ARN)
    label, attributes = the_source(terraform_document(given, connector(database="orders"), "public.orders\n"))
    assert (
        attributes["name"] == "pg.internal.example.com:5433/orders" and label == "pg_internal_example_com_5433_orders"
    )
