"""Report: the Streamkap connector settings, the tables CSV and every change made."""

from __future__ import annotations

import csv
import io

from lambdas.logic.terraform import terraform_document
from lambdas.shared.models import (
    HEARTBEAT_TABLE,
    SIGNAL_TABLE,
    TABLES_CSV_INLINE_LIMIT_BYTES,
    ConfigureResult,
    Connector,
    SetupInput,
    SetupOutput,
    Target,
    VerifyResult,
    WorkflowState,
)
from lambdas.shared.steps import Workflow, change_keys


def tables_csv(tables: list[str]) -> str:
    """The Streamkap bulk upload format: one schema.table per row, no header."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for table in tables:
        writer.writerow([table])
    return buffer.getvalue()


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def export_query(setup: SetupInput) -> str:
    """The user tables of the publication, one schema.table per row, as ConfigureDatabase published them."""
    own = ", ".join(_quoted(t) for t in (SIGNAL_TABLE, HEARTBEAT_TABLE))  # as tables_to_publish leaves them out
    # A schemas or all_tables publication holds more than is captured: only the captured schemas' tables.
    captured = ", ".join(_quoted(s) for s in setup.schemas)
    scope = f"AND schemaname IN ({captured}) " if setup.publication_mode != "tables" else ""
    return (
        "SELECT schemaname || '.' || tablename FROM pg_publication_tables "
        f"WHERE pubname = {_quoted(setup.publication_name)} {scope}"
        f"AND NOT (schemaname = {_quoted(setup.signal_table_schema)} AND tablename IN ({own})) ORDER BY 1"
    )


def export_command(setup: SetupInput) -> str:
    """psql writing the tables CSV from the database, for a list too large for the execution output."""
    return f"psql -c \"\\copy ({export_query(setup)}) TO 'tables.csv' WITH (FORMAT csv)\""


def inline_tables_csv(tables: list[str]) -> str | None:
    """The CSV if it fits in the state and the output; None if Step Functions could not carry it."""
    text = tables_csv(tables)
    return text if len(text.encode()) <= TABLES_CSV_INLINE_LIMIT_BYTES else None


def changes_made(state: WorkflowState) -> list[str]:
    """The changes of every step the registry marks as changing, in run order."""
    results = (getattr(state, key) for key in change_keys(Workflow.SETUP))
    return [change for result in results if result is not None for change in result.changes]


def report(state: WorkflowState) -> SetupOutput:
    """The output of the path the run took: dry run, reboot pending (reboot "never"), or ready."""
    if state.input.dry_run:
        return SetupOutput(
            status="DryRun",
            plan=state.preflight.plan,
            message="Dry run: nothing was changed. Start again with dry_run false to apply the plan.",
        )
    match state:
        case WorkflowState(configure=None):  # stopped before the reboot, as reboot "never" asks
            return SetupOutput(
                status="RebootPending",
                changes=changes_made(state),
                message=f"Reboot instance {state.target.instance_id} (or wait for its maintenance window), then "
                "start the execution again to finish the setup.",
            )
        case WorkflowState(configure=ConfigureResult() as configured, verification=VerifyResult() as verification):
            return ready(state, configured, verification)
    raise ValueError("Report was given a configured database without its verification: was a step run out of order?")


def connector_of(setup: SetupInput, target: Target, configured: ConfigureResult) -> Connector:
    """The "Create Source" form's fields (RegisterSource sends the same through the API)."""
    return Connector(
        hostname=target.host,
        port=target.port,
        database=target.database,
        username=setup.user_name,
        password_secret_arn=configured.secret_arn,
        signal_table_schema=setup.signal_table_schema,
        replication_slot_name=setup.slot_name,
        publication_name=setup.publication_name,
    )


def ready(state: WorkflowState, configured: ConfigureResult, verification: VerifyResult) -> SetupOutput:
    setup, target = state.input, state.target
    connector = connector_of(setup, target, configured)
    omitted = None
    if configured.tables_csv is None:
        omitted = (
            f"The tables CSV ({configured.user_tables} tables) is larger than a Step Functions output can carry "
            f"({TABLES_CSV_INLINE_LIMIT_BYTES // 1024} KiB kept for it), so tables_csv is left out. Export it from "
            f"the database: {export_command(setup)} (the Terraform file reads its table_include_list from that file)"
        )
    return SetupOutput(
        status="Ready",
        connector=connector,
        tables_csv=configured.tables_csv,
        tables_count=configured.user_tables,
        changes=changes_made(state),
        verification=verification,
        terraform=terraform_document(setup, connector, configured.tables_csv),
        source=state.source,
        source_streaming=state.source_streaming,
        message=omitted,
        warnings=(state.security_group.warnings if state.security_group else [])
        + (state.check_schedule.warnings if state.check_schedule else []),
    )
