"""What the CLI and the demo say about a setup's output (cli/form.py)."""

from __future__ import annotations

import pytest

from cli.form import STREAMKAP_FORM, form_lines, published_tables, verified_line
from lambdas.shared.models import Connector


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


def test_the_verified_line_names_the_proof_and_the_heartbeat_to_choose_in_streamkap():
    assert verified_line(output(5, 3)).endswith(
        "heartbeat (table) seen in the slot: True, proof: peeked the slot as the CDC user"
    )
    message = output(4, 3)
    message["verification"]["heartbeat"] = "message"
    assert "heartbeat (logical message, no table) seen in the slot: True" in verified_line(message)
    assert verified_line(output(5, 3, "live")).endswith("proof: a connector streams from the slot")
    assert verified_line(output(5, 3)).startswith("Verified: wal_level=logical, 5 tables published (3 to capture")


def test_the_form_lines_hold_every_value_whole_and_say_where_each_advanced_value_comes_from():
    long_host = "orders-prod." + "x" * 120 + ".us-east-1.rds.amazonaws.com"
    connector = Connector(
        hostname=long_host, port=5432, database="orders", username="streamkap_user", password_secret_arn="arn:s",
        signal_table_schema="streamkap", replication_slot_name="slot", publication_name="pub",
    ).model_dump()  # fmt: skip
    lines = form_lines(connector)
    assert lines[0] == f"  Hostname{' ' * 27}{long_host}"
    advanced = lines[lines.index("  Advanced Parameters") + 1 :]
    assert [line.split("  ")[2].strip() for line in advanced] == [
        "Snapshot Mode", "Represent Binary Data As", "Snapshot Chunk Size", "Max Batch Size"
    ]  # fmt: skip
    assert all("Streamkap's default" in line for line in advanced)
    assert "When Needed" in advanced[0] and "1024" in advanced[2] and "5120" in advanced[2]
    assert len(lines) == len(STREAMKAP_FORM) + 1
