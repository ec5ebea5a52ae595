"""The prepared source as Streamkap's Terraform provider declares it: a `streamkap_source_postgresql`
resource (attribute names of streamkap-com/terraform-provider-streamkap, internal/generated/
source_postgresql.go) in Terraform's JSON syntax, ready to be written as a `.tf.json` file.

The password is never in it: `database_password` reads the user's Secrets Manager secret at plan
time through an `aws_secretsmanager_secret_version` data source."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from lambdas.shared.models import Connector, SetupInput

PROVIDERS = {
    "streamkap": {"source": "streamkap-com/streamkap"},
    "aws": {"source": "hashicorp/aws"},
}


def terraform_label(name: str) -> str:
    """A Terraform block label from a target name: letters, digits, `_` and `-`, not starting with a digit."""
    label = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    return label if re.match(r"[A-Za-z_]", label) else f"_{label}"


def csv_tables(tables_csv: str) -> list[str]:
    return [row[0] for row in csv.reader(io.StringIO(tables_csv)) if row]


def source_name(target_id: str, database: str) -> str:
    """The source's name in Streamkap: the target and its database, as the workflow names them."""
    return target_id if target_id.endswith(f"/{database}") else f"{target_id}/{database}"


def source_attributes(
    setup: SetupInput, connector: Connector, tables: list[str] | None, password_expression: str
) -> dict[str, Any]:
    """The resource's attributes. `tables` None (a list too large for the execution output): the
    include list is read from the tables CSV written beside the file (`tables.csv`)."""
    schemas = sorted({table.partition(".")[0] for table in tables}) if tables else list(setup.schemas)
    include_list = ",".join(tables) if tables is not None else TABLES_FROM_CSV_FILE
    return {
        "name": source_name(setup.target_id, connector.database),
        "database_hostname": connector.hostname,
        "database_port": connector.port,
        "database_user": connector.username,
        "database_password": password_expression,
        "database_dbname": connector.database,
        # The workflow connects with TLS (verify-full); the provider knows require and disable.
        "database_sslmode": "require",
        "schema_include_list": ",".join(schemas),
        "table_include_list": include_list,
        "signal_data_collection_schema_or_database": connector.signal_table_schema,
        "heartbeat_enabled": setup.heartbeat != "off",
        # Message or no heartbeat: no table, so no schema (null: the provider's "Kafka-only" heartbeat,
        # which needs neither a heartbeat table nor a write grant in the source database).
        "heartbeat_data_collection_schema_or_database": connector.signal_table_schema
        if setup.heartbeat == "table"
        else None,
        "slot_name": connector.replication_slot_name,
        "publication_name": connector.publication_name,
        "binary_handling_mode": connector.binary_handling_mode,
        # The provider's default "Yes" is for read replicas; this is the primary, with a signal table.
        "snapshot_read_only": "No",
    }


# Terraform reads the CSV the CLI (or the export command in the output's message) wrote beside the file.
TABLES_FROM_CSV_FILE = '${join(",", compact(split("\\n", replace(file("${path.module}/tables.csv"), "\\r", ""))))}'


def terraform_document(setup: SetupInput, connector: Connector, tables_csv: str | None) -> dict[str, Any]:
    """The whole `.tf.json`: the providers, the secret's data source and the source resource."""
    label = terraform_label(source_name(setup.target_id, connector.database))
    secret = f"data.aws_secretsmanager_secret_version.{label}"
    password = f'${{jsondecode({secret}.secret_string)["password"]}}'
    tables = csv_tables(tables_csv) if tables_csv is not None else None
    return {
        "terraform": {"required_providers": PROVIDERS},
        "data": {"aws_secretsmanager_secret_version": {label: {"secret_id": connector.password_secret_arn}}},
        "resource": {"streamkap_source_postgresql": {label: source_attributes(setup, connector, tables, password)}},
    }


# The provider's SourcePostgresqlFieldMappings (internal/generated/source_postgresql.go): Terraform
# attribute -> the key of the source's config in Streamkap's API. RegisterSource sends the attributes
# above through this table, so the registered source and the `.tf.json` can never say different things.
API_CONFIG_KEYS = {
    "database_hostname": "database.hostname.user.defined",
    "database_port": "database.port.user.defined",
    "database_user": "database.user",
    "database_password": "database.password",
    "database_dbname": "database.dbname",
    "snapshot_read_only": "snapshot.read.only.user.defined",
    "signal_data_collection_schema_or_database": "signal.data.collection.schema.or.database",
    "column_include_list_toggled": "column.include.list.toggled",
    "source_regex_support_enabled": "SourceRegexSupport.enabled",
    "transforms_source_regex_support_regex_replacement": "transforms.SourceRegexSupport.regex.replacement",
    "transforms_source_regex_support_key_field_template": "transforms.SourceRegexSupport.key.field.template",
    "transforms_source_regex_support_metadata_field_name": "transforms.SourceRegexSupport.metadata.field.name",
    "column_include_list": "column.include.list.user.defined",
    "column_exclude_list": "column.exclude.list.user.defined",
    "heartbeat_enabled": "heartbeat.enabled",
    "heartbeat_data_collection_schema_or_database": "heartbeat.data.collection.schema.or.database",
    "slot_name": "slot.name",
    "publication_name": "publication.name",
    "schema_include_list": "schema.include.list",
    "table_include_list": "table.include.list.user.defined",
    "database_sslmode": "database.sslmode",
    "include_source_db_name_in_table_name": "include.source.db.name.in.table.name.user.defined",
    "binary_handling_mode": "binary.handling.mode",
    "transforms_insert_static_key1_static_field": "transforms.InsertStaticKey1.static.field",
    "transforms_insert_static_key1_static_value": "transforms.InsertStaticKey1.static.value",
    "transforms_insert_static_value1_static_field": "transforms.InsertStaticValue1.static.field",
    "transforms_insert_static_value1_static_value": "transforms.InsertStaticValue1.static.value",
    "transforms_insert_static_key2_static_field": "transforms.InsertStaticKey2.static.field",
    "transforms_insert_static_key2_static_value": "transforms.InsertStaticKey2.static.value",
    "transforms_insert_static_value2_static_field": "transforms.InsertStaticValue2.static.field",
    "transforms_insert_static_value2_static_value": "transforms.InsertStaticValue2.static.value",
    "predicates_is_topic_to_enrich_pattern": "predicates.IsTopicToEnrich.pattern",
    "streamkap_snapshot_parallelism": "streamkap.snapshot.parallelism",
    "streamkap_snapshot_large_table_threshold": "streamkap.snapshot.large.table.threshold",
    "streamkap_snapshot_custom_table_config": "streamkap.snapshot.custom.table.config.user.defined",
    "ssh_enabled": "ssh.enabled",
    "ssh_host": "ssh.host",
    "ssh_port": "ssh.port",
    "ssh_user": "ssh.user",
    "ssh_public_key": "ssh.public.key.user.displayed",
}


def api_source_config(setup: SetupInput, connector: Connector, tables: list[str], password: str) -> dict[str, Any]:
    """The source's `config` as Streamkap's API takes it: source_attributes through API_CONFIG_KEYS
    (the name travels beside the config, not in it). The password is the real one: the caller sends
    it to the API and keeps it nowhere else."""
    attributes = source_attributes(setup, connector, tables, password)
    unmapped = set(attributes) - {"name"} - set(API_CONFIG_KEYS)
    if unmapped:  # an attribute added above without its API key would silently not be registered
        raise ValueError(f"no API config key for the source attributes {sorted(unmapped)}")
    return {API_CONFIG_KEYS[name]: value for name, value in attributes.items() if name != "name"}
