"""Report: the Streamkap connector settings, the tables CSV and every change made."""

from __future__ import annotations

import csv
import io

from lambdas.shared.models import Connector, SetupOutput, WorkflowState


def tables_csv(tables: list[str]) -> str:
    """The Streamkap bulk upload format: one schema.table per row, no header."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for table in tables:
        writer.writerow([table])
    return buffer.getvalue()


def changes_made(state: WorkflowState) -> list[str]:
    steps = (state.parameter_group, state.reboot, state.configure, state.slot, state.alarms)
    return [change for step in steps if step is not None for change in step.changes]


def report(state: WorkflowState) -> SetupOutput:
    setup = state.input
    if setup.dry_run:
        state.require("preflight")
        assert state.preflight is not None
        return SetupOutput(
            status="DryRun",
            plan=state.preflight.plan,
            message="Dry run: nothing was changed. Start again with dry_run false to apply the plan.",
        )
    if state.configure is None:  # stopped before the reboot, as reboot "never" asks
        return SetupOutput(
            status="RebootPending",
            changes=changes_made(state),
            message=f"Reboot instance {state.target.instance_id if state.target else ''} (or wait for its "
            "maintenance window), then start the execution again to finish the setup.",
        )
    state.require("target", "configure", "verification")
    assert state.target is not None and state.verification is not None
    connector = Connector(
        hostname=state.target.host,
        port=state.target.port,
        database=state.target.database,
        username=setup.user_name,
        password_secret_arn=state.configure.secret_arn,
        signal_table_schema=setup.signal_table_schema,
        replication_slot_name=setup.slot_name,
        publication_name=setup.publication_name,
    )
    return SetupOutput(
        status="Ready",
        connector=connector,
        tables_csv=tables_csv(state.configure.tables),
        changes=changes_made(state),
        verification=state.verification,
    )
