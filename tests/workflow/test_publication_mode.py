"""publication_mode through the real ASL. A superuser master (self-managed) gets FOR ALL TABLES or FOR
TABLES IN SCHEMA, with the replica identity check over every table that publishes; the RDS-like master
(rds_superuser, no superuser) is refused by name, dry run and real run alike, and nothing changes."""

from __future__ import annotations

import pytest

from tests.snapshots import everything
from tests.workflow.conftest import Stack
from tests.workflow.test_self_managed import SelfManaged, self_managed  # noqa: F401 (the fixture)

pytestmark = pytest.mark.workflow

CAPTURED = "inventory.stock\npublic.events\npublic.items\npublic.orders\n"


def test_all_tables_checks_every_schema_then_publishes_every_table_and_reports_the_captured_ones(
    self_managed: SelfManaged,  # noqa: F811
):
    server = self_managed.server
    server.restart(wal_level="logical")
    conn = server.connect("orders")
    try:
        conn.run("CREATE SCHEMA audit")
        conn.run("CREATE TABLE audit.log (at timestamptz, what text)")  # no key, outside schemas public, inventory
    finally:
        conn.close()
    before = everything(server, "orders")

    refused = self_managed.run(publication_mode="all_tables")

    assert refused.error == "ReplicaIdentityMissing", refused.cause
    assert "audit.log" in refused.cause and "publication_mode all_tables" in refused.cause
    assert everything(server, "orders") == before

    conn = server.connect("orders")
    try:
        conn.run("ALTER TABLE audit.log ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
    finally:
        conn.close()
    execution = self_managed.run(publication_mode="all_tables")

    assert execution.status == "SUCCEEDED", execution.cause
    output = execution.output
    assert output["tables_csv"] == CAPTURED and output["tables_count"] == 4
    assert any("FOR ALL TABLES" in change for change in output["changes"])
    verification = output["verification"]
    own = 1 if self_managed.server.major_version >= 14 else 2  # signal (and heartbeat below 14: "auto")
    assert verification["published_tables"] == 4 + 1 + own  # captured, audit.log and ours
    assert verification["peek_ok"] and verification["heartbeat_seen"]


def test_schemas_publishes_the_captured_and_the_signal_schema(self_managed: SelfManaged):  # noqa: F811
    self_managed.server.restart(wal_level="logical")

    execution = self_managed.run(publication_mode="schemas")

    assert execution.status == "SUCCEEDED", execution.cause
    assert any("FOR TABLES IN SCHEMA public, inventory, streamkap" in change for change in execution.output["changes"])
    assert execution.output["tables_csv"] == CAPTURED
    verification = execution.output["verification"]
    # captured and the signal table (15+: the heartbeat is a logical message, "auto")
    assert verification["published_tables"] == 5 and verification["heartbeat_seen"]


def test_the_rds_like_master_is_refused_both_modes_by_name_and_nothing_changes(stack: Stack):
    before = everything(stack.server, "orders")

    dry = stack.run(publication_mode="all_tables", dry_run=True)
    all_tables = stack.run(publication_mode="all_tables")
    schemas = stack.run(publication_mode="schemas")

    assert dry.status == "SUCCEEDED", dry.cause
    [refusal] = [line for line in dry.output["plan"] if line.startswith("refused (a real run stops here): ")]
    assert "FOR ALL TABLES" in refusal and "publication_mode tables" in refusal
    assert any(line.startswith("create publication streamkap_pub FOR ALL TABLES") for line in dry.output["plan"])
    for refused, clause in ((all_tables, "FOR ALL TABLES"), (schemas, "FOR TABLES IN SCHEMA")):
        assert refused.status == "FAILED" and refused.error == "PublicationModeNotAllowed", refused.cause
        assert clause in refused.cause and "publication_mode tables" in refused.cause
        assert "Preflight" in refused.states_entered and "EnsureParameterGroup" not in refused.states_entered
    assert everything(stack.server, "orders") == before
