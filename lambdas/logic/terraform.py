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
        "heartbeat_data_collection_schema_or_database": connector.signal_table_schema,
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
