"""The CLI without AWS: the Streamkap form, progress rows, input merging and named errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from cli.app import CliError, app, execution_input, print_output
from cli.display import STREAMKAP_FORM, Progress
from lambdas.logic.report import report
from lambdas.shared.models import Connector, WorkflowState

runner = CliRunner()
T0 = datetime(2026, 11, 25, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:rds-cdc-setup"


def event(kind: str, name: str | None = None, ms: int = 0, **details) -> dict:
    found = {"type": kind, "timestamp": T0 + timedelta(milliseconds=ms)}
    if name and kind.endswith("StateEntered"):
        found["stateEnteredEventDetails"] = {"name": name}
    elif name:
        found["stateExitedEventDetails"] = {"name": name}
    if details:
        found[f"{kind[0].lower()}{kind[1:]}EventDetails"] = details
    return found


def test_the_form_lists_every_connector_field_in_the_streamkap_order():
    assert list(STREAMKAP_FORM) == [
        "Hostname",
        "Port",
        "Username",
        "Password (Secrets Manager secret)",
        "Signal Table Schema",
        "Database",
        "Replication Slot Name",
        "Publication Name",
        "Snapshot Chunk Size",
        "Max Batch Size",
    ]
    assert sorted(STREAMKAP_FORM.values()) == sorted(Connector.model_fields)


def test_a_ready_report_fills_the_form_field_by_field_with_the_seed_defaults():
    state = WorkflowState.model_validate(
        {
            "input": {"db_instance_identifier": "orders-prod", "schemas": ["public"]},
            "target": {
                **dict.fromkeys(("engine_version", "status", "parameter_group", "parameter_apply_status"), "x"),
                "instance_id": "orders-prod",
                "engine": "postgres",
                "major_version": 15,
                "parameter_group_family": "postgres15",
                "host": "orders-prod.abc.us-east-1.rds.amazonaws.com",
                "port": 5432,
                "database": "orders",
                "master_secret_arn": "arn:master",
            },
            "configure": {
                "changes": [],
                "secret_arn": "arn:user",
                "user_tables": 1,
                "published_tables": 3,
                "tables_csv": "public.orders\n",
            },
            "verification": {"wal_level": "logical", "published_tables": 3, "peek_ok": True, "peeked_changes": 1},
        }
    )
    connector = report(state).connector.model_dump()
    form = {label: connector[key] for label, key in STREAMKAP_FORM.items()}
    assert form == {
        "Hostname": "orders-prod.abc.us-east-1.rds.amazonaws.com",
        "Port": 5432,
        "Username": "streamkap_user",
        "Password (Secrets Manager secret)": "arn:user",
        "Signal Table Schema": "streamkap",
        "Database": "orders",
        "Replication Slot Name": "streamkap_pgoutput_slot",
        "Publication Name": "streamkap_pub",
        "Snapshot Chunk Size": 1024,
        "Max Batch Size": 2048,
    }
    assert report(state).tables_csv == "public.orders\n"


def test_progress_counts_a_looping_state_and_reports_a_failure_once():
    progress = Progress()
    for e in [
        event("WaitStateEntered", "WaitForReboot", 0),
        event("WaitStateExited", "WaitForReboot", 10),
        event("WaitStateEntered", "WaitForReboot", 20),
        event("WaitStateExited", "WaitForReboot", 50),
        event("TaskStateEntered", "Verify", 60),
        event("TaskFailed", error="VerificationFailed"),
        event("LambdaFunctionFailed", error="VerificationFailed"),
    ]:
        progress.add(e)
    wait, verify = progress.rows["WaitForReboot"], progress.rows["Verify"]
    assert (wait.runs, round(wait.seconds, 3), wait.running) == (2, 0.04, False)
    assert (verify.error, verify.running) == ("VerificationFailed", False)
    assert progress.add(event("ExecutionFailed", error="VerificationFailed")) is None  # already shown


def test_flags_win_over_input_which_wins_over_the_targets_defaults(tmp_path):
    extra = tmp_path / "input.json"
    extra.write_text(json.dumps({"schemas": ["sales"], "reboot": "never"}))
    merged = execution_input(
        {"db_instance_identifier": "orders-prod", "schemas": ["public"], "poll_seconds": 5},
        f"@{extra}",
        db_instance_identifier="billing",
        schemas=None,
        tables=[],
    )
    assert merged == {"db_instance_identifier": "billing", "schemas": ["sales"], "reboot": "never", "poll_seconds": 5}
    with pytest.raises(CliError, match="--input must be a JSON object"):
        execution_input({}, "[1, 2]")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "-i", "orders-prod"], "InvalidInput: no state machine"),
        (["setup", "--state-machine-arn", "arn:aws:lambda:us-east-1:1:function:x"], "is not a Step Functions"),
        (["teardown", "--all", "--teardown-arn", ARN, "--input", "{oops"], "InvalidInput: --input: Expecting"),
        (["setup", "--input", "@/no/such/file.json", "--state-machine-arn", ARN], "InvalidInput: --input: [Errno 2]"),
    ],
)
def test_bad_targets_and_input_print_a_named_error_and_exit_1(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_output_without_the_tables_csv_prints_how_to_export_it_and_writes_no_file(tmp_path, capsys):
    connector = Connector(
        hostname="h", port=5432, database="orders", username="u", password_secret_arn="arn:user",
        signal_table_schema="streamkap", replication_slot_name="s", publication_name="p",
    )  # fmt: skip
    output = {
        "status": "Ready",
        "connector": connector.model_dump(),
        "tables_count": 9000,
        "message": "The tables CSV (9000 tables) is larger ... psql -c \"\\copy (...) TO 'tables.csv'\"",
    }
    print_output(output, tmp_path / "tables.csv")
    printed = capsys.readouterr().out
    assert "9000 tables" in printed and "\\copy" in printed
    assert not (tmp_path / "tables.csv").exists()
