"""The commands. Each resolves its target (AWS by ARN, or the local stack), starts or reads an
execution of the real state machine and prints what the DBA needs; failures print the named
error and its message and exit non-zero."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ParamSpec

import boto3
import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.markup import escape

from cli import display, executions, form
from cli.display import console

app = typer.Typer(
    help="Prepare (and tear down) RDS, Aurora or self-managed PostgreSQL for Streamkap CDC with the rds-cdc-setup "
    "state machines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

Local = Annotated[
    bool, typer.Option("--local", help="Use the local emulated stack (sample database), started on first use.")
]
SetupArn = Annotated[
    str | None,
    typer.Option("--state-machine-arn", envvar="RDS_CDC_SETUP_ARN", help="Setup state machine (stack output)."),
]
TeardownArn = Annotated[
    str | None,
    typer.Option("--teardown-arn", envvar="RDS_CDC_TEARDOWN_ARN", help="Teardown state machine (stack output)."),
]
Region = Annotated[str | None, typer.Option(help="AWS region (default: the ARN's).")]
Instance = Annotated[str | None, typer.Option("--instance", "-i", help="RDS instance (db_instance_identifier).")]
Cluster = Annotated[
    str | None,
    typer.Option("--cluster", "-c", help="Aurora cluster (db_cluster_identifier), instead of --instance."),
]
Host = Annotated[
    str | None,
    typer.Option(
        "--host", help="Self-managed PostgreSQL server (host), instead of an RDS identifier; needs --master-secret-arn."
    ),
]
Port = Annotated[int | None, typer.Option("--port", min=1, max=65535, help="With --host: its port (default 5432).")]
MasterSecret = Annotated[
    str | None,
    typer.Option(
        "--master-secret-arn",
        help="Secrets Manager secret of a superuser: required with --host; on RDS it replaces the MasterUserSecret.",
    ),
]
Database = Annotated[str | None, typer.Option(help="Database to capture (default: the instance's DBName).")]
Schemas = Annotated[list[str] | None, typer.Option("--schema", help="Schema to capture (repeat).")]
Tables = Annotated[list[str] | None, typer.Option("--table", help="schema.table instead of whole schemas (repeat).")]
Input = Annotated[
    str | None, typer.Option("--input", help="More execution input: a JSON object, or @file.json. Flags win.")
]


class CliError(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


@dataclass(frozen=True)
class Target:
    sfn: Any
    setup_arn: str | None
    teardown_arn: str | None
    defaults: dict[str, Any]  # execution input the target suggests (the local sample database)


def connect(*, local: bool, setup_arn: str | None, teardown_arn: str | None, region: str | None) -> Target:
    if local:
        from local.stack import CREDENTIALS, ensure_running

        info, started = ensure_running()
        if started:
            console.print(f"Local stack started: {info.postgres}, RDS instance {info.instance} (emulated)")
        sfn = boto3.client("stepfunctions", endpoint_url=info.endpoint, **CREDENTIALS)
        return Target(sfn, info.setup_arn, info.teardown_arn, info.execution_input)
    arn = setup_arn or teardown_arn
    if not arn:
        raise CliError(
            "InvalidInput",
            "no state machine: pass --state-machine-arn / --teardown-arn (the stack outputs StateMachineArn and "
            "TeardownStateMachineArn; or RDS_CDC_SETUP_ARN / RDS_CDC_TEARDOWN_ARN), or --local",
        )
    parts = arn.split(":")
    if len(parts) < 7 or parts[2] != "states":
        raise CliError("InvalidInput", f"{arn!r} is not a Step Functions state machine ARN")
    return Target(boto3.client("stepfunctions", region_name=region or parts[3]), setup_arn, teardown_arn, {})


# The keys naming what to prepare. A layer (defaults < --input < flags) that names a target replaces
# the lower layers' choice whole: `--cluster` on the local stack, whose defaults name an instance,
# must not send both. `port` belongs to the host it came with, `allow_cidrs` to the instance or cluster
# whose security groups it opens (a self-managed host refuses it).
TARGET_KEYS = ("db_instance_identifier", "db_cluster_identifier", "host")
FLAGS = {
    "db_instance_identifier": "--instance",
    "db_cluster_identifier": "--cluster",
    "host": "--host",
    "port": "--port",
    "master_secret_arn": "--master-secret-arn",
}


def overlay(lower: dict[str, Any], upper: dict[str, Any]) -> dict[str, Any]:
    merged = dict(lower)
    if any(upper.get(key) for key in TARGET_KEYS):
        for key in (*TARGET_KEYS, "port", "allow_cidrs"):
            merged.pop(key, None)
    return {**merged, **upper}


def named(key: str) -> str:
    return f"{key} ({FLAGS[key]})"


def check_target(payload: dict[str, Any]) -> None:
    """One target, said in one line before anything starts (the workflow would reject it too, later)."""
    targets = [key for key in TARGET_KEYS if payload.get(key)]
    if len(targets) > 1:
        raise CliError(
            "InvalidInput",
            f"{' and '.join(map(named, targets))} name different targets: give one, an RDS instance, "
            "an Aurora cluster or a self-managed host",
        )
    if payload.get("port") is not None and not payload.get("host"):
        raise CliError("InvalidInput", f"{named('port')} goes with {named('host')}: RDS gives its endpoint's port")


def requested_input(extra: str | None, **flags: Any) -> dict[str, Any]:
    """--input overlaid with the flags given, its target checked: call it before connecting, which
    may start the local stack."""
    parsed: dict[str, Any] = {}
    if extra:
        try:
            text = Path(extra[1:]).read_text() if extra.startswith("@") else extra
            parsed = json.loads(text)
        except (OSError, ValueError) as error:
            raise CliError("InvalidInput", f"--input: {error}") from None
        if not isinstance(parsed, dict):
            raise CliError("InvalidInput", "--input must be a JSON object")
    requested = overlay(parsed, {key: value for key, value in flags.items() if value not in (None, [], False)})
    check_target(requested)
    if requested.get("host") and not requested.get("master_secret_arn"):
        raise CliError(
            "InvalidInput",
            f"{named('host')} needs {named('master_secret_arn')}: a self-managed server has no RDS MasterUserSecret",
        )
    return requested


def setup_request(
    extra: str | None,
    instance: str | None,
    cluster: str | None,
    host: str | None,
    port: int | None,
    master_secret_arn: str | None,
    database: str | None,
    schemas: list[str] | None,
    tables: list[str] | None,
) -> dict[str, Any]:
    """plan's and setup's flags as setup input keys, over --input."""
    return requested_input(
        extra,
        db_instance_identifier=instance,
        db_cluster_identifier=cluster,
        host=host,
        port=port,
        master_secret_arn=master_secret_arn,
        database=database,
        schemas=schemas,
        tables=tables,
    )


def execution_input(defaults: dict[str, Any], extra: str | None, **flags: Any) -> dict[str, Any]:
    """Flags win over --input, which wins over the target's defaults. The commands take its two
    halves apart, to check the target before connecting."""
    return overlay(defaults, requested_input(extra, **flags))


def run(target: Target, state_machine_arn: str | None, payload: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Start, follow state by state, return the output of a successful execution."""
    if not state_machine_arn:
        raise CliError("InvalidInput", f"no {prefix} state machine: pass its ARN, or --local")
    arn = executions.start(target.sfn, state_machine_arn, payload, prefix)
    console.print(f"Execution [bold]{arn.rsplit(':', 1)[-1]}[/] started\n")
    display.show_progress(executions.follow(target.sfn, arn))
    return succeeded(executions.result(target.sfn, arn))


def succeeded(result: executions.Result) -> dict[str, Any]:
    if result.status == "SUCCEEDED" and result.output is not None:
        return result.output
    cause = result.cause or ""
    with suppress(ValueError, AttributeError):  # a Fail state without notification carries Lambda's JSON error
        cause = json.loads(cause).get("errorMessage", cause)
    raise CliError(result.error or result.status, cause or f"the execution ended {result.status}")


def print_output(output: dict[str, Any], csv_path: Path | None = None) -> None:
    """A setup's or a teardown's output; their statuses differ but for DryRun, printed alike."""
    status = output["status"]
    if status == "DryRun":
        display.bullet_list("Plan (dry run, nothing changed):", output.get("plan", []))
        return
    display.bullet_list("Changes made:", output.get("changes", []))
    if status in ("Removed", "RebootPending"):
        color = "bold green" if status == "Removed" else "yellow"
        console.print(f"\n[{color}]{status}[/]: {escape(output.get('message', ''))}")
        return
    console.print()
    display.connector_form(output["connector"])
    if output.get("verification"):
        console.print(f"\n{escape(form.verified_line(output))}")
    if "tables_csv" not in output:  # too large for an execution output; the message says how to export it
        console.print(f"[yellow]{escape(output.get('message', ''))}[/]")
    elif csv_path:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        csv_path.write_text(output["tables_csv"])
        rows = len(output["tables_csv"].splitlines())
        console.print(f"Tables CSV (Streamkap bulk upload, no header): {csv_path} ({rows} tables)")
    console.print(f"\n[bold green]{status}[/]: the database is ready for Streamkap.")


P = ParamSpec("P")


def guarded(function: Callable[P, None]) -> Callable[P, None]:
    """Named errors (ours, the workflow's, AWS's) as `Name: message` and exit 1."""

    @functools.wraps(function)  # typer reads the wrapped signature
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            function(*args, **kwargs)
        except CliError as error:
            display.error(error.name, str(error))
            raise typer.Exit(1) from None
        except ClientError as error:
            display.error(error.response["Error"]["Code"], error.response["Error"].get("Message", ""))
            raise typer.Exit(1) from None
        except (BotoCoreError, OSError, RuntimeError) as error:  # no credentials, unwritable CSV, no local stack
            display.error(type(error).__name__, str(error))
            raise typer.Exit(1) from None

    return wrapper


@app.command()
@guarded
def plan(
    instance: Instance = None,
    cluster: Cluster = None,
    host: Host = None,
    port: Port = None,
    master_secret_arn: MasterSecret = None,
    database: Database = None,
    schema: Schemas = None,
    table: Tables = None,
    input: Input = None,
    local: Local = False,
    state_machine_arn: SetupArn = None,
    region: Region = None,
) -> None:
    """Dry run: every change setup would make, changing nothing."""
    requested = setup_request(input, instance, cluster, host, port, master_secret_arn, database, schema, table)
    target = connect(local=local, setup_arn=state_machine_arn, teardown_arn=None, region=region)
    payload = overlay(target.defaults, requested)
    print_output(run(target, target.setup_arn, {**payload, "dry_run": True}, "plan"))


@app.command()
@guarded
def setup(
    instance: Instance = None,
    cluster: Cluster = None,
    host: Host = None,
    port: Port = None,
    master_secret_arn: MasterSecret = None,
    database: Database = None,
    schema: Schemas = None,
    table: Tables = None,
    input: Input = None,
    csv: Annotated[Path, typer.Option(help="Where to write the tables CSV.")] = Path("tables.csv"),
    local: Local = False,
    state_machine_arn: SetupArn = None,
    region: Region = None,
) -> None:
    """Run the setup, following it state by state; print the connector settings and write the tables CSV."""
    requested = setup_request(input, instance, cluster, host, port, master_secret_arn, database, schema, table)
    target = connect(local=local, setup_arn=state_machine_arn, teardown_arn=None, region=region)
    print_output(run(target, target.setup_arn, overlay(target.defaults, requested), "setup"), csv)


# list_executions does not return an execution's input, so finding a target's executions describes
# each one: only this many of each workflow's latest are looked at.
STATUS_SCAN = 50


def latest_executions(target: Target, wanted: dict[str, Any]) -> list[dict[str, Any]]:
    """Both workflows' executions, newest first; only those naming the wanted target, if any."""
    machines = [arn for arn in (target.setup_arn, target.teardown_arn) if arn]
    found = [e for arn in machines for e in executions.recent(target.sfn, arn, STATUS_SCAN if wanted else 5)]
    if wanted:
        found = [
            e for e in found if executions.names_target(executions.input_of(target.sfn, e["executionArn"]), wanted)
        ]
    return sorted(found, key=lambda e: e["startDate"], reverse=True)


@app.command()
@guarded
def status(
    execution_arn: Annotated[str | None, typer.Argument(help="An execution (default: the latest).")] = None,
    instance: Annotated[
        str | None, typer.Option("--instance", "-i", help="Only this RDS instance's executions.")
    ] = None,
    cluster: Annotated[
        str | None, typer.Option("--cluster", "-c", help="Only this Aurora cluster's executions.")
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="Only this self-managed server's executions.")] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="With --host: only this port's (default: any).")
    ] = None,
    local: Local = False,
    state_machine_arn: SetupArn = None,
    teardown_arn: TeardownArn = None,
    region: Region = None,
) -> None:
    """Recent executions (of one target, if named), and the states and result of one (exit 1 if it failed)."""
    named_by = (
        ("db_instance_identifier", instance),
        ("db_cluster_identifier", cluster),
        ("host", host),
        ("port", port),
    )
    wanted = {key: value for key, value in named_by if value is not None}
    check_target(wanted)
    if wanted and execution_arn:
        raise CliError("InvalidInput", "give an execution ARN or a target (--instance, --cluster, --host), not both")
    target = connect(local=local, setup_arn=state_machine_arn, teardown_arn=teardown_arn, region=region)
    if execution_arn is None:
        latest = latest_executions(target, wanted)
        if not latest:
            which = " ".join(f"{key}={value}" for key, value in wanted.items())
            console.print(
                f"No executions of {which} among the latest {STATUS_SCAN}." if wanted else "No executions yet."
            )
            return
        table = display.Table("execution", "workflow", "status", "started", box=None, header_style="bold")
        for e in latest[:10]:
            workflow = e["stateMachineArn"].rsplit(":", 1)[-1]
            table.add_row(e["name"], workflow, e["status"], e["startDate"].strftime("%Y-%m-%d %H:%M:%S"))
        console.print(table)
        execution_arn = latest[0]["executionArn"]
    console.print(f"\n[bold]{execution_arn.rsplit(':', 1)[-1]}[/]")
    display.show_progress(executions.history(target.sfn, execution_arn))
    result = executions.result(target.sfn, execution_arn)
    if result.status == "RUNNING":
        console.print("\nStill running.")
        return
    print_output(succeeded(result))


@app.command()
@guarded
def teardown(
    instance: Instance = None,
    cluster: Cluster = None,
    host: Host = None,
    port: Port = None,
    master_secret_arn: MasterSecret = None,
    database: Database = None,
    slot: Annotated[bool, typer.Option("--slot", help="Drop the replication slot.")] = False,
    publication: Annotated[bool, typer.Option("--publication", help="Drop the publication.")] = False,
    tables: Annotated[bool, typer.Option("--tables", help="Drop the signal and heartbeat tables.")] = False,
    user: Annotated[bool, typer.Option("--user", help="Drop the user and role, delete the user's secret.")] = False,
    parameter_group: Annotated[
        bool, typer.Option("--parameter-group", help="Re-attach the default parameter group setup replaced.")
    ] = False,
    alarms: Annotated[bool, typer.Option("--alarms", help="Delete the CloudWatch alarms setup made.")] = False,
    security_group: Annotated[
        bool, typer.Option("--security-group", help="Detach and delete the security group allow_cidrs made.")
    ] = False,
    everything: Annotated[bool, typer.Option("--all", help="All of the above.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Drop the slot even while a connector reads it.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be removed.")] = False,
    input: Input = None,
    local: Local = False,
    teardown_arn: TeardownArn = None,
    region: Region = None,
) -> None:
    """Remove what setup created; each part is opt-in (or --all)."""
    requested = requested_input(
        input,
        db_instance_identifier=instance,
        db_cluster_identifier=cluster,
        host=host,
        port=port,
        master_secret_arn=master_secret_arn,
        database=database,
        drop_slot=slot or everything,
        drop_publication=publication or everything,
        drop_tables=tables or everything,
        drop_user=user or everything,
        revert_parameter_group=parameter_group or everything,
        drop_alarms=alarms or everything,
        drop_security_group=security_group or everything,
        force=force,
        dry_run=dry_run,
    )
    target = connect(local=local, setup_arn=None, teardown_arn=teardown_arn, region=region)
    defaults = {k: v for k, v in target.defaults.items() if k in ("db_instance_identifier", "database")}
    print_output(run(target, target.teardown_arn, overlay(defaults, requested), "teardown"))


@app.command("stop-local")
def stop_local() -> None:
    """Stop the local stack and throw its database away."""
    from local.stack import stop

    console.print("Local stack stopped." if stop() else "No local stack running.")
