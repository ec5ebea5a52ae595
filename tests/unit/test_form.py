"""What the CLI and the demo say about a setup's output (cli/form.py)."""

from __future__ import annotations

import pytest

from cli.form import form_lines, published_tables, verified_line


def output(published: int, captured: int | None, proof: str = "peek") -> dict:
    verification = {"wal_level": "logical", "published_tables": published, "heartbeat_seen": True, "proof": proof}
    return {"verification": verification, "tables_count": captured}


@pytest.mark.parametrize(
    ("published", "captured", "said"),
    [
        (5, 3, "5 tables published (3 to capture, as in the tables CSV, + the workflow's signal and heartbeat tables)"),
        (4, 3, "4 tables published (3 to capture, as in the tables CSV, + the workflow's signal table)"),
        (3, 3, "3 tables published"),
        (
            9,
            3,
            "9 tables published (3 to capture, as in the tables CSV, + the workflow's own and those outside the "
            "captured schemas that publication_mode schemas or all_tables publishes)",
        ),
        (5, None, "5 tables published"),
    ],
)
def test_the_published_count_says_why_it_exceeds_the_csv(published, captured, said):
    assert published_tables(output(published, captured)) == said


def test_the_verified_line_names_the_proof():
    assert verified_line(output(5, 3)).endswith(
        "heartbeat seen in the slot: True, proof: peeked the slot as the CDC user"
    )
    assert verified_line(output(5, 3, "live")).endswith("proof: a connector streams from the slot")
    assert verified_line(output(5, 3)).startswith("Verified: wal_level=logical, 5 tables published (3 to capture")


def test_the_form_lines_hold_every_value_whole_in_the_form_order():
    connector = {key: f"value-of-{key}-" + "x" * 120 for key in ("hostname", "port", "username")}
    connector |= {k: k for k in ("password_secret_arn", "signal_table_schema", "database")}
    connector |= {k: k for k in ("replication_slot_name", "publication_name", "snapshot_chunk_size", "max_batch_size")}
    lines = form_lines(connector)
    assert [line.split()[0] for line in lines][:3] == ["Hostname", "Port", "Username"]
    assert lines[0].endswith(connector["hostname"]) and len(lines) == 10
