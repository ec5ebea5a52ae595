"""Thousands of tables through the real ASL: every state and the output stay within Step Functions'
256 KiB (the runner fails an execution beyond it, as AWS does; moto alone would not)."""

from __future__ import annotations

import pytest

from lambdas.logic.report import export_query
from lambdas.shared.models import STATE_LIMIT_BYTES, TABLES_CSV_INLINE_LIMIT_BYTES, SetupInput
from local.workflow_runner import oversized_payload

pytestmark = pytest.mark.workflow

TABLES = 3000
PREFIX = "customer_order_line_item_history_archive"  # long names, as real schemas have: ~160 KB of CSV


def largest_payload(events: list[dict]) -> int:
    sizes = [
        len(str(details.get(field) or "").encode())
        for event in events
        for key, details in event.items()
        if key.endswith("EventDetails") and isinstance(details, dict)
        for field in ("input", "output")
    ]
    return max(sizes)


def test_thousands_of_tables_keep_every_state_and_the_output_under_the_step_functions_limit(stack):
    for start in range(1, TABLES + 1, 500):  # one transaction per 500: PG10 has no COMMIT inside DO
        stack.sql(
            f"DO $$ BEGIN FOR i IN {start}..{start + 499} LOOP "
            f"EXECUTE format('CREATE TABLE public.{PREFIX}_%s (id int PRIMARY KEY)', i); END LOOP; END $$"
        )
    before = {
        row[0] for row in stack.sql("SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname = 'public'")
    }

    execution = stack.run(schemas=["public"])

    assert execution.status == "SUCCEEDED", execution.cause
    assert largest_payload(execution.events) <= STATE_LIMIT_BYTES
    output = execution.output
    # The names would take more than the CSV's budget: the output says so and how to export them.
    assert "tables_csv" not in output
    own = 1 if stack.server.major_version >= 14 else 2  # signal (and heartbeat below 14: "auto")
    assert output["tables_count"] >= TABLES
    assert output["verification"]["published_tables"] == output["tables_count"] + own
    assert "\\copy" in output["message"] and "tables.csv" in output["message"]
    setup = SetupInput(db_instance_identifier="orders-prod", schemas=["public"])
    exported = [row[0] for row in stack.sql(export_query(setup))]
    assert len("".join(f"{name}\n" for name in exported).encode()) > TABLES_CSV_INLINE_LIMIT_BYTES
    # Partitioned tables publish as their root (PG13+) or their leaves (PG10-12): compare with the catalog.
    assert set(exported) <= before and len(exported) == output["tables_count"]


def test_a_run_with_a_state_over_256_kib_fails_as_on_aws():
    events = [
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Verify", "input": "x" * 100}},
        {
            "type": "TaskStateExited",
            "stateExitedEventDetails": {"name": "Verify", "output": "é" * (STATE_LIMIT_BYTES // 2 + 1)},
        },
    ]
    assert oversized_payload(events[:1]) is None
    assert (
        oversized_payload(events)
        == f"The output of Verify is {STATE_LIMIT_BYTES + 2} bytes; Step Functions allows {STATE_LIMIT_BYTES}"
    )
