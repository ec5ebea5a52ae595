"""The CLI without AWS: the Streamkap form, progress rows, input merging and named errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import typer
from typer.testing import CliRunner

from cli.app import CliError, app, execution_input, print_output
from cli.display import Progress, show_progress
from cli.form import STREAMKAP_FORM
from lambdas.logic.report import report
from lambdas.shared.models import Connector, WorkflowState
from lambdas.shared.teardown_models import PARTS

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


@pytest.mark.parametrize("command", sorted(c.name for c in typer.main.get_command(app).commands.values()))
def test_help_shows_a_value_only_for_options_that_take_one(command):
    """typer 0.29 printed `--slot <bool>` (even `--help <bool>`), and `--slot true` was then refused."""
    click_command = typer.main.get_command(app).commands[command]
    shown = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}, terminal_width=200).output
    lines = {
        param.opts[0]: next(row for row in shown.splitlines() if f" {param.opts[0]} " in row)
        for param in click_command.params
    }
    for option, line in lines.items():
        after_name = line.split(f" {option} ", 1)[1]
        param = next(p for p in click_command.params if p.opts[0] == option)
        if getattr(param, "is_flag", False):
            assert "<" not in after_name.split("  ")[0] and "<bool>" not in line, line
        else:
            assert "<" in line, line  # its type, e.g. <str>


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
        "Snapshot Mode",
        "Represent Binary Data As",
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
            "preflight": {"server_version_num": 150004, "wal_level": "logical", "rds_roles": True, "plan": []},
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
        "Snapshot Mode": "When Needed",
        "Represent Binary Data As": "bytes",
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


def test_a_caught_failure_prints_one_line_when_output_is_not_a_terminal(capsys):
    # A Catch exits the failed state (TaskStateExited) after its failure events: one line, not two
    show_progress(
        [
            event("TaskStateEntered", "CreateSlot", 0),
            event("TaskFailed", error="TransientFailure"),  # retried, then succeeded: not a failure
            event("TaskSucceeded"),
            event("TaskStateExited", "CreateSlot", 7),
            event("TaskStateEntered", "Verify", 10),
            event("TaskFailed", error="VerificationFailed"),
            event("LambdaFunctionFailed", error="VerificationFailed"),
            event("TaskStateExited", "Verify", 15),
            event("TaskStateEntered", "NotifyFailure", 20),
            event("TaskStateExited", "NotifyFailure", 22),
        ]
    )
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["✗", "CreateSlot"],
        ["✓", "CreateSlot"],
        ["✗", "Verify"],
        ["✓", "NotifyFailure"],
    ]
    assert lines[2].split()[2:] == ["VerificationFailed"]


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


SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:pg-master-AbCdEf"
TEARDOWN_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:rds-cdc-teardown"


class FakeSfn:
    """Step Functions as the CLI calls it: every execution it starts succeeds at once with `output`;
    `past` are earlier executions (name, execution input), newest first."""

    def __init__(self, output: dict | None = None, past: list[tuple[str, dict]] = ()) -> None:
        self.output = output or {"status": "DryRun", "plan": ["create replication slot s (pgoutput)"], "message": ""}
        self.started: list[dict] = []
        self.described: list[str] = []
        self.executions = {
            f"{ARN}:{name}".replace(":stateMachine:", ":execution:"): {
                "name": name,
                "input": json.dumps(given),
                "startDate": T0 - timedelta(minutes=n),
            }
            for n, (name, given) in enumerate(past)
        }

    def start_execution(self, stateMachineArn: str, name: str, input: str) -> dict:
        arn = f"{stateMachineArn}:{name}".replace(":stateMachine:", ":execution:")
        self.started.append(json.loads(input))
        self.executions[arn] = {"name": name, "input": input, "startDate": T0}
        return {"executionArn": arn}

    def describe_execution(self, executionArn: str) -> dict:
        self.described.append(executionArn)
        return {"status": "SUCCEEDED", "output": json.dumps(self.output), **self.executions[executionArn]}

    def list_executions(self, stateMachineArn: str, maxResults: int) -> dict:
        found = [
            {"executionArn": arn, "stateMachineArn": stateMachineArn, "status": "SUCCEEDED", **e}
            for arn, e in self.executions.items()
            if arn.startswith(stateMachineArn.replace(":stateMachine:", ":execution:") + ":")
        ]
        return {"executions": found[:maxResults]}

    def get_paginator(self, operation: str):
        return type("Paginator", (), {"paginate": lambda _, executionArn: [{"events": []}]})()


@pytest.fixture
def sfn(monkeypatch) -> FakeSfn:
    fake = FakeSfn()
    monkeypatch.setattr("cli.app.boto3.client", lambda *args, **kwargs: fake)
    return fake


def test_a_target_named_by_flags_replaces_the_one_input_and_defaults_name():
    # Given defaults naming an instance (the local stack) and --input naming a self-managed host
    defaults = {"db_instance_identifier": "orders-prod", "schemas": ["public"]}
    extra = json.dumps({"host": "pg.internal", "port": 6543, "master_secret_arn": SECRET})
    # When the input alone names the target, the defaults' instance is dropped, not sent beside it
    assert execution_input(defaults, extra) == {
        "schemas": ["public"],
        "host": "pg.internal",
        "port": 6543,
        "master_secret_arn": SECRET,
    }
    # When a flag names a cluster, the input's host and its port go too; its secret stays (RDS may use one)
    assert execution_input(defaults, extra, db_cluster_identifier="orders-aurora", db_instance_identifier=None) == {
        "schemas": ["public"],
        "db_cluster_identifier": "orders-aurora",
        "master_secret_arn": SECRET,
    }
    # When a flag gives only the port, the input's host keeps it
    assert execution_input(defaults, extra, port=5433)["port"] == 5433
    assert execution_input(defaults, extra, port=5433)["host"] == "pg.internal"


@pytest.mark.parametrize(
    ("command", "flags", "expected"),
    [
        ("plan", ["-c", "orders-aurora"], {"db_cluster_identifier": "orders-aurora", "dry_run": True}),
        (
            "setup",
            ["--cluster", "orders-aurora", "--database", "orders"],
            {"db_cluster_identifier": "orders-aurora", "database": "orders"},
        ),
        (
            "setup",
            ["--host", "pg.internal", "--port", "6543", "--master-secret-arn", SECRET],
            {"host": "pg.internal", "port": 6543, "master_secret_arn": SECRET},
        ),
        (
            "plan",
            [
                "--input",
                json.dumps({"db_instance_identifier": "orders-prod", "reboot": "never"}),
                "-c",
                "orders-aurora",
            ],
            {"db_cluster_identifier": "orders-aurora", "reboot": "never", "dry_run": True},
        ),
    ],
)
def test_plan_and_setup_send_the_cluster_or_host_flags_as_execution_input(sfn, command, flags, expected):
    result = runner.invoke(app, [command, *flags, "--state-machine-arn", ARN])

    assert result.exit_code == 0, result.output
    assert sfn.started == [expected]


def test_teardown_passes_the_cluster_or_host_and_its_secret_through(sfn):
    sfn.output = {"status": "DryRun", "plan": ["drop replication slot s"], "message": ""}

    cluster = runner.invoke(app, ["teardown", "-c", "orders-aurora", "--slot", "--teardown-arn", TEARDOWN_ARN])
    secret = ["--master-secret-arn", SECRET, "--teardown-arn", TEARDOWN_ARN]
    # RDS only: parameter group, security group
    parts = ["--slot", "--publication", "--tables", "--user", "--alarms", "--check-schedule"]
    host = runner.invoke(app, ["teardown", "--host", "pg.internal", "--port", "6543", *parts, "--dry-run", *secret])

    assert (cluster.exit_code, host.exit_code) == (0, 0), cluster.output + host.output
    chosen = dict.fromkeys(set(PARTS) - {"revert_parameter_group", "drop_security_group"}, True)
    assert sfn.started == [
        {"db_cluster_identifier": "orders-aurora", "drop_slot": True},
        {"host": "pg.internal", "port": 6543, "master_secret_arn": SECRET, **chosen, "dry_run": True},
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["plan", "-i", "orders-prod", "-c", "orders-aurora"],
            "db_instance_identifier (--instance) and db_cluster_identifier (--cluster) name different targets",
        ),
        (
            ["setup", "-c", "orders-aurora", "--host", "pg", "--master-secret-arn", SECRET],
            "db_cluster_identifier (--cluster) and host (--host) name different targets",
        ),
        (
            ["setup", "--input", '{"db_instance_identifier": "a", "host": "pg"}'],
            "db_instance_identifier (--instance) and host (--host) name different",
        ),
        (
            ["teardown", "--all", "-i", "orders-prod", "--host", "pg"],
            "db_instance_identifier (--instance) and host (--host) name different",
        ),
        (["setup", "-i", "orders-prod", "--port", "5433"], "InvalidInput: port (--port) goes with host (--host)"),
        (
            ["plan", "--host", "pg.internal"],
            "InvalidInput: host (--host) needs master_secret_arn (--master-secret-arn)",
        ),
        (["teardown", "--all", "--host", "pg.internal"], "InvalidInput: host (--host) needs master_secret_arn"),
        (
            ["status", "-i", "orders-prod", "-c", "orders-aurora"],
            "InvalidInput: db_instance_identifier (--instance) and",
        ),
        (["status", "--port", "5433"], "InvalidInput: port (--port) goes with host (--host)"),
        (
            ["status", "arn:aws:states:us-east-1:1:execution:m:e", "-c", "x"],
            "InvalidInput: give an execution ARN or a target",
        ),
    ],
)
def test_two_targets_or_a_port_or_host_alone_are_one_named_line_before_anything_starts(sfn, args, message):
    # No state machine ARN is given: the target error comes first, before connecting (or starting
    # the local stack) and before any execution.
    result = runner.invoke(app, args)

    assert result.exit_code == 1
    assert message in result.output
    assert result.output.count("\n") == 1, result.output
    assert sfn.started == []


def test_status_of_a_cluster_or_host_shows_only_its_executions_latest_first(monkeypatch):
    fake = FakeSfn(
        output={"status": "Removed", "changes": [], "message": "Everything chosen is gone."},
        past=[
            ("setup-instance", {"db_instance_identifier": "orders-aurora"}),  # same name, but an instance
            ("setup-aurora-2", {"db_cluster_identifier": "Orders-Aurora"}),  # identifiers ignore case
            ("setup-aurora-1", {"db_cluster_identifier": "orders-aurora"}),
            ("setup-host-6543", {"host": "pg.internal", "port": 6543, "master_secret_arn": SECRET}),
            ("setup-host-5432", {"host": "pg.internal", "master_secret_arn": SECRET}),
        ],
    )
    monkeypatch.setattr("cli.app.boto3.client", lambda *args, **kwargs: fake)

    def listed(*flags: str) -> list[str]:
        result = runner.invoke(app, ["status", *flags, "--state-machine-arn", ARN])
        assert result.exit_code == 0, result.output
        rows = [line.split()[0] for line in result.output.splitlines() if "SUCCEEDED" in line]
        assert f"\n\n{rows[0]}\n" in result.output  # the latest is the one shown in full
        return rows

    assert listed("-c", "orders-aurora") == ["setup-aurora-2", "setup-aurora-1"]
    assert listed("-i", "orders-aurora") == ["setup-instance"]
    assert listed("--host", "pg.internal") == ["setup-host-6543", "setup-host-5432"]
    assert listed("--host", "pg.internal", "--port", "5432") == ["setup-host-5432"]
    assert len(listed()) == 5  # no target: every recent execution, as before

    nothing = runner.invoke(app, ["status", "-c", "orders-eu", "--state-machine-arn", ARN])
    assert nothing.exit_code == 0
    assert "No executions of db_cluster_identifier=orders-eu among the latest 50." in nothing.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "--schema", "public,sales"], "--schema 'public,sales': one name per flag, not a comma-separated "
         "list: --schema public --schema sales (a name with a comma in it goes in --input '{\"schemas\": [...]}')"),
        (["setup", "--schema", "a", "--table", "a.x, b.y"], "--table a.x --table b.y"),
        (["fleet", "--tag", "team=orders", "--schema", "a,b"], "--schema a --schema b"),
        (["teardown", "-i", "orders-prod"], "InvalidInput: nothing to remove: choose at least one of --slot, "
         "--publication, --tables, --user, --parameter-group, --alarms, --check-schedule, or --all"),
        (["teardown", "--input", '{"drop_slot": false}'], "nothing to remove: choose at least one of --slot"),
        (["fleet", "-i", "orders-eu", "--tag", "team=orders"], "InvalidInput: give --instance (repeat) or --tag"),
        (["fleet", "--schema", "public"], "InvalidInput: name the fleet: --instance (repeat) or --tag key=value"),
        (["alarms"], "InvalidInput: name the target: --instance or --cluster"),
    ],
)  # fmt: skip
def test_a_mistake_in_the_flags_is_one_line_naming_the_flags_before_anything_starts(sfn, args, message):
    result = runner.invoke(app, [*args, "--region", "us-east-1"] if args[0] == "alarms" else args)

    assert result.exit_code == 1
    assert message in result.output
    assert result.output.count("\n") == 1, result.output
    assert sfn.started == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["setup", "-i", "orders-prod", "--input", '{"shemas": ["public"], "rebot": "never"}'],
            "InvalidInput: input rejected, nothing was started. shemas: unknown key; did you mean schemas?; "
            "rebot: unknown key; did you mean reboot?",
        ),
        (["plan", "--schema", "public"], "input: db_instance_identifier (RDS), db_cluster_identifier (Aurora) or"),
        (["plan", "-i", "orders-prod", "--database", "a\x00b"], "database (--database): "),
        (
            ["teardown", "--host", "pg", "--master-secret-arn", SECRET, "--all"],
            "input rejected, nothing was started. input: revert_parameter_group needs an RDS instance",
        ),
        (["teardown", "-i", "orders-prod", "--slot", "--input", '{"drop_slots": true}'], "did you mean drop_slot?"),
        (
            ["teardown", "-i", "orders-prod", "--input", '{"drop_tables": 1.5}'],
            ". drop_tables (--tables): Input should",
        ),
        (["fleet", "--tag", "team=orders", "--input", '{"max_instance": 3}'], "did you mean max_instances?"),
    ],
)
def test_input_the_workflow_would_reject_is_refused_before_an_execution_starts(sfn, args, message):
    arn = {"teardown": ["--teardown-arn", TEARDOWN_ARN], "fleet": ["--fleet-arn", FLEET_ARN]}
    result = runner.invoke(app, [*args, *arn.get(args[0], ["--state-machine-arn", ARN])])

    assert result.exit_code == 1
    assert message in result.output
    assert result.output.count("\n") == 1, result.output
    assert sfn.started == []


@pytest.mark.parametrize(
    ("command", "named", "not_named"),
    [
        ("plan", "pass --state-machine-arn (the stack output StateMachineArn, or RDS_CDC_SETUP_ARN)", "teardown"),
        ("setup", "pass --state-machine-arn (the stack output StateMachineArn", "eardown"),
        ("teardown", "pass --teardown-arn (the stack output TeardownStateMachineArn, or RDS_CDC_TEARDOWN_ARN)",
         "SETUP"),
        ("status", "pass --state-machine-arn or --teardown-arn (the stack outputs StateMachineArn / "
         "TeardownStateMachineArn, or RDS_CDC_SETUP_ARN / RDS_CDC_TEARDOWN_ARN), or --local", "fleet"),
        ("fleet", "pass --fleet-arn (the stack output FleetStateMachineArn, or RDS_CDC_FLEET_ARN), or --local",
         "SETUP"),
    ],
)  # fmt: skip
def test_without_a_state_machine_each_command_names_only_its_own_flags(monkeypatch, command, named, not_named):
    for env in ("RDS_CDC_SETUP_ARN", "RDS_CDC_TEARDOWN_ARN", "RDS_CDC_FLEET_ARN"):
        monkeypatch.delenv(env, raising=False)
    args = {"teardown": ["-i", "orders-prod", "--slot"], "fleet": ["--tag", "team"]}.get(command, ["-i", "orders-prod"])

    result = runner.invoke(app, [command, *args])

    assert result.exit_code == 1
    assert f"InvalidInput: no state machine: {named}" in result.output
    assert not_named not in result.output


def test_missing_aws_credentials_are_one_line_saying_how_to_give_them(monkeypatch, tmp_path):
    for env in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a session of an earlier test keeps its credentials

    result = runner.invoke(app, ["plan", "-i", "orders-prod", "--state-machine-arn", ARN])

    assert result.exit_code == 1
    assert result.output == (
        "NoCredentials: no AWS credentials: set AWS_PROFILE (a profile made by `aws configure`), run `aws configure`, "
        "or use --local for the local stack\n"
    )


FLEET_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:rds-cdc-fleet"
FLEET_OUTPUT = {
    "status": "PartiallyFailed",
    "counts": {"Ready": 1, "Failed": 1},
    "instances": [
        {"db_instance_identifier": "orders-eu", "status": "Ready", "execution_arn": f"{ARN}:a"},
        {
            "db_instance_identifier": "orders-us",
            "status": "Failed",
            "error": "ReplicaIdentityMissing",
            "message": "1 table(s) have no primary key: public.audit_log",
            "execution_arn": f"{ARN}:b".replace(":stateMachine:", ":execution:"),
        },
    ],
}


def test_fleet_sends_the_selector_and_the_setup_flags_and_prints_each_instance(sfn):
    sfn.output = FLEET_OUTPUT
    extra = json.dumps({"tag": "team=orders", "setup": {"reboot": "never"}, "max_instances": 5})

    result = runner.invoke(
        app,
        ["fleet", "-i", "orders-eu", "-i", "orders-us", "--schema", "public", "--dry-run", "--max-concurrency", "2",
         "--input", extra, "--fleet-arn", FLEET_ARN],
    )  # fmt: skip

    assert result.exit_code == 1  # one instance failed
    assert sfn.started == [
        {
            "db_instance_identifiers": ["orders-eu", "orders-us"],  # the flags' selector replaces the input's tag
            "max_instances": 5,
            "max_concurrency": 2,
            "setup": {"reboot": "never", "schemas": ["public"], "dry_run": True},
        }
    ]
    lines = result.output.splitlines()
    assert "Fleet of 2 instance(s): Ready 1, Failed 1" in lines
    assert "  ✓ orders-eu                    Ready" in lines
    assert (
        "  ✗ orders-us                    Failed  ReplicaIdentityMissing: 1 table(s) have no primary key: "
        "public.audit_log"
    ) in lines
    assert f"      {FLEET_OUTPUT['instances'][1]['execution_arn']}" in lines
    assert lines[-1] == "PartiallyFailed"


def test_a_fleet_that_succeeded_exits_0(sfn):
    sfn.output = {**FLEET_OUTPUT, "status": "Succeeded", "instances": FLEET_OUTPUT["instances"][:1]}

    result = runner.invoke(app, ["fleet", "--tag", "team", "--fleet-arn", FLEET_ARN])

    assert result.exit_code == 0, result.output
    assert sfn.started == [{"tag": "team", "setup": {}}]
    assert result.output.splitlines()[-1] == "Succeeded"


def test_alarms_lists_the_workflows_alarms_of_an_instance_or_a_clusters_instances_and_the_latest_slot_lag():
    from moto import mock_aws

    from lambdas.logic.monitoring import alarm_specs, desired_alarm
    from lambdas.shared.models import SetupInput

    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
        for instance in ("orders-prod", "orders-prod-2", "orders-aurora-1"):
            for spec in alarm_specs(SetupInput(db_instance_identifier=instance)):
                cloudwatch.put_metric_alarm(**desired_alarm(spec, instance, None))
        cloudwatch.put_metric_alarm(  # the workflow's name, but not its marker: someone else's
            **{**desired_alarm(alarm_specs(SetupInput(db_instance_identifier="x"))[0], "orders-prod", None),
               "AlarmName": "rds-cdc-setup-orders-prod-Handmade", "AlarmDescription": "mine"}
        )  # fmt: skip
        for name in ("FreeStorageSpace", "TransactionLogsDiskUsage", "OldestReplicationSlotLag"):
            state = "ALARM" if name == "OldestReplicationSlotLag" else "OK"
            cloudwatch.set_alarm_state(AlarmName=f"rds-cdc-setup-orders-prod-{name}", StateValue=state, StateReason="t")
        cloudwatch.put_metric_data(
            Namespace="AWS/RDS",
            MetricData=[
                {
                    "MetricName": "OldestReplicationSlotLag",
                    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "orders-prod"}],
                    "Value": 3 * 1024**3 / 2,
                    "Timestamp": datetime.now(UTC) - timedelta(minutes=10),
                    "Unit": "Bytes",
                }
            ],
        )
        rds = boto3.client("rds", region_name="eu-west-1")
        rds.create_db_cluster(
            DBClusterIdentifier="orders-aurora",
            Engine="aurora-postgresql",
            MasterUsername="m",
            MasterUserPassword="p" * 8,
        )
        rds.create_db_instance(
            DBInstanceIdentifier="orders-aurora-1", DBClusterIdentifier="orders-aurora", Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
        )  # fmt: skip

        instance = runner.invoke(app, ["alarms", "-i", "orders-prod", "--region", "eu-west-1"])
        cluster = runner.invoke(app, ["alarms", "-c", "orders-aurora", "--region", "eu-west-1"])
        none = runner.invoke(app, ["alarms", "-i", "billing", "--region", "eu-west-1"])

    assert (instance.exit_code, cluster.exit_code, none.exit_code) == (0, 0, 0), instance.output + cluster.output
    rows = sorted(line.split()[:6] for line in instance.output.splitlines() if " rds-cdc-setup-" in line)
    assert rows == [
        ["rds-cdc-setup-orders-prod-FreeStorageSpace", "OK", "FreeStorageSpace", "<", "5", "GiB,"],
        ["rds-cdc-setup-orders-prod-OldestReplicationSlotLag", "ALARM", "OldestReplicationSlotLag", ">", "5", "GiB,"],
        ["rds-cdc-setup-orders-prod-TransactionLogsDiskUsage", "OK", "TransactionLogsDiskUsage", ">", "10", "GiB,"],
    ]
    assert "Handmade" not in instance.output and "orders-prod-2" not in instance.output
    assert "Slot lag (OldestReplicationSlotLag, 5-minute maximum at " in instance.output
    assert instance.output.rstrip().endswith("): 1.5 GiB")
    assert "\norders-aurora-1 (writer)\n" in cluster.output
    assert cluster.output.count("rds-cdc-setup-orders-aurora-1-") == 3
    assert "Slot lag: no OldestReplicationSlotLag datapoint in the last 3 hours" in cluster.output
    assert none.output == (
        "\nbilling\n  No alarms of rds-cdc-setup (setup makes them; a self-managed server gets none).\n"
        "  Slot lag: no OldestReplicationSlotLag datapoint in the last 3 hours\n"
    )
