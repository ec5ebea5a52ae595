"""The words both the CLI and `make demo` print for a setup's output: the Streamkap form and what
Verify proved. Plain text, no rich: the demo's install (the local lock) has no CLI packages."""

from __future__ import annotations

from typing import Any

# The Streamkap "Create Source > PostgreSQL" form, in its order: label <- connector field.
STREAMKAP_FORM = {
    "Hostname": "hostname",
    "Port": "port",
    "Username": "username",
    "Password (Secrets Manager secret)": "password_secret_arn",
    "Signal Table Schema": "signal_table_schema",
    "Database": "database",
    "Replication Slot Name": "replication_slot_name",
    "Publication Name": "publication_name",
    "Snapshot Mode": "snapshot_mode",
    "Represent Binary Data As": "binary_handling_mode",
    "Snapshot Chunk Size": "snapshot_chunk_size",
    "Max Batch Size": "max_batch_size",
}
# The form's Advanced Parameters, and where each value comes from (nothing here is measured on the database).
ADVANCED_FROM = {
    "snapshot_mode": "Streamkap's default: a snapshot only when the connector has no position in the slot",
    "binary_handling_mode": "Streamkap's default; base64 or hex when the destination wants text",
    "snapshot_chunk_size": "Streamkap's default; its guide: 5120 past ~100 million rows",
    "max_batch_size": "Streamkap's default; its guide: larger only when the connector lags",
}
FORM_TITLE = "Streamkap: Sources > Create New > PostgreSQL"
# The manual guide this workflow automates.
STREAMKAP_GUIDE = "https://docs.streamkap.com/docs/postgresql-on-amazon-rds"


def form_lines(connector: dict[str, Any]) -> list[str]:
    """Aligned `label value` lines, never truncated: each value is pasted into the form as is."""
    lines = []
    for label, key in STREAMKAP_FORM.items():
        if key == next(iter(ADVANCED_FROM)):
            lines.append("  Advanced Parameters")
        if key in ADVANCED_FROM:
            lines.append(f"    {label:<32} {connector[key]!s:<12} {ADVANCED_FROM[key]}")
        else:
            lines.append(f"  {label:<34} {connector[key]}")
    return lines


def published_tables(output: dict[str, Any]) -> str:
    """`5 tables published` read beside a CSV of 3 needs its reason: the publication also holds the
    workflow's own signal (and heartbeat) table, which Streamkap is not given in the CSV."""
    published = output["verification"]["published_tables"]
    captured = output.get("tables_count")
    own = published - captured if captured is not None else 0
    if own <= 0:
        return f"{published} tables published"
    if own > 2:  # publication_mode schemas or all_tables: the publication holds tables nobody captures
        return (
            f"{published} tables published ({captured} to capture, as in the tables CSV, + the workflow's own and "
            "those outside the captured schemas that publication_mode schemas or all_tables publishes)"
        )
    whose = "signal table" if own == 1 else "signal and heartbeat tables"
    return f"{published} tables published ({captured} to capture, as in the tables CSV, + the workflow's {whose})"


# Verify's heartbeat: Streamkap's heartbeat option to match (a table in the signal schema, or "use logical message").
HEARTBEAT_KIND = {"table": "(table) ", "message": "(logical message, no table) "}


def verified_line(output: dict[str, Any]) -> str:
    verification = output["verification"]
    how = {"peek": "peeked the slot as the CDC user", "live": "a connector streams from the slot"}
    return (
        f"Verified: wal_level={verification['wal_level']}, {published_tables(output)}, heartbeat "
        f"{HEARTBEAT_KIND.get(verification.get('heartbeat', 'table'), '')}seen in the slot: "
        f"{verification.get('heartbeat_seen')}, proof: {how.get(verification.get('proof', 'peek'), 'peek')}"
    )
