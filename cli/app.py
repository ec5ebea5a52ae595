"""The commands. Each resolves its target (AWS by ARN, or the local stack), starts or reads an
execution of the real state machine and prints what the DBA needs; failures print the named
error and its message and exit non-zero."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, ParamSpec

import boto3
import typer
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
from pydantic import BaseModel, ValidationError
from rich.markup import escape

from cli import display, executions, form
from cli.display import console
from lambdas.logic.monitoring import GIB, alarm_marker
from lambdas.shared.check_models import CheckInput
from lambdas.shared.fleet_models import FleetInput
from lambdas.shared.models import SetupInput
from lambdas.shared.names import ALARM_NAME_PREFIX
from lambdas.shared.parsing import problems
from lambdas.shared.teardown_models import PARTS, TeardownInput

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
FleetArn = Annotated[
    str | None,
    typer.Option("--fleet-arn", envvar="RDS_CDC_FLEET_ARN", help="Fleet state machine (stack output)."),
]
CheckArn = Annotated[
    str | None,
    typer.Option("--check-arn", envvar="RDS_CDC_CHECK_ARN", help="Check state machine (stack output)."),
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
class Machine:
    """A state machine of the stack, as a command names it: its flag, env var and stack output."""

    what: str
    flag: str
    env: str
    output: str


SETUP = Machine("setup", "--state-machine-arn", "RDS_CDC_SETUP_ARN", "StateMachineArn")
TEARDOWN = Machine("teardown", "--teardown-arn", "RDS_CDC_TEARDOWN_ARN", "TeardownStateMachineArn")
FLEET = Machine("fleet", "--fleet-arn", "RDS_CDC_FLEET_ARN", "FleetStateMachineArn")
CHECK = Machine("check", "--check-arn", "RDS_CDC_CHECK_ARN", "CheckStateMachineArn")


@dataclass(frozen=True)
class Target:
    sfn: Any
    arns: dict[str, str]  # Machine.what -> ARN, for the machines known
    defaults: dict[str, Any]  # execution input the target suggests (the local sample database)
    client_args: dict[str, Any] = field(default_factory=dict)  # boto3.client's, for other services

    def client(self, service: str) -> Any:
        return boto3.client(service, **self.client_args)


def no_machine(machines: list[Machine]) -> CliError:
    """Names only the command's own flags, env vars and stack outputs."""
    outputs = " / ".join(m.output for m in machines)
    envs = " / ".join(m.env for m in machines)
    return CliError(
        "InvalidInput",
        f"no state machine: pass {' or '.join(m.flag for m in machines)} (the stack output{'s' * (len(machines) > 1)} "
        f"{outputs}, or {envs}), or --local",
    )


def connect(*, local: bool, machines: dict[Machine, str | None], region: str | None = None) -> Target:
    """`machines`: the command's state machines and the ARNs given (none: a command that only reads
    other services, in `region` or the profile's)."""
    if local:
        from local.stack import CREDENTIALS, ensure_running

        info, started = ensure_running()
        if started:
            console.print(f"Local stack started: {info.postgres}, RDS instance {info.instance} (emulated)")
        local_args: dict[str, Any] = {"endpoint_url": info.endpoint, **CREDENTIALS}
        arns = {
            "setup": info.setup_arn,
            "teardown": info.teardown_arn,
            "fleet": info.fleet_arn,
            "check": info.check_arn,
        }
        known = {what: arn for what, arn in arns.items() if arn}
        return Target(boto3.client("stepfunctions", **local_args), known, info.execution_input, local_args)
    given: dict[str, str] = {machine.what: arn for machine, arn in machines.items() if arn}
    if machines and not given:
        raise no_machine(list(machines))
    for arn in given.values():
        parts = arn.split(":")
        if len(parts) < 7 or parts[2] != "states":
            raise CliError("InvalidInput", f"{arn!r} is not a Step Functions state machine ARN")
    args: dict[str, Any] = {"region_name": region or next((arn.split(":")[3] for arn in given.values()), None)}
    return Target(boto3.client("stepfunctions", **args), given, {}, args)


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
    "database": "--database",
    "schemas": "--schema",
    "tables": "--table",
    "dry_run": "--dry-run",
    "force": "--force",
}
# The teardown's parts, as its flags.
PART_FLAGS = {
    "drop_slot": "--slot",
    "drop_publication": "--publication",
    "drop_tables": "--tables",
    "drop_user": "--user",
    "revert_parameter_group": "--parameter-group",
    "drop_alarms": "--alarms",
    "drop_check_schedule": "--check-schedule",
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
    one_name_per_flag("--schema", schemas)
    one_name_per_flag("--table", tables)
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


def one_name_per_flag(flag: str, values: list[str] | None) -> None:
    """`--schema a,b` is a list typed the shell's way: one name per flag. A name that really holds a
    comma goes in --input, where JSON says where each name ends."""
    for value in values or []:
        if "," in value:
            repeated = " ".join(f"{flag} {part.strip()}" for part in value.split(",") if part.strip())
            key = FLAGS_KEYS[flag]
            raise CliError(
                "InvalidInput",
                f"{flag} {value!r}: one name per flag, not a comma-separated list: {repeated} "
                f"(a name with a comma in it goes in --input '{{\"{key}\": [...]}}')",
            )


FLAGS_KEYS = {flag: key for key, flag in FLAGS.items()}


def refuse_locally(model: type[BaseModel], payload: dict[str, Any]) -> None:
    """The workflow's own input check (its ValidateInput), run here first: bad input is refused
    before an execution starts, with the flags named beside their keys."""
    try:
        model.model_validate(payload)
    except ValidationError as error:
        found = problems(error, known=model.model_fields)
        for key, flag in {**FLAGS, **PART_FLAGS}.items():  # whole keys: `tables` is not `drop_tables`
            found = re.sub(rf"(?<![\w.]){key}: ", f"{key} ({flag}): ", found)
        raise CliError("InvalidInput", f"input rejected, nothing was started. {found}") from None


def execution_input(defaults: dict[str, Any], extra: str | None, **flags: Any) -> dict[str, Any]:
    """Flags win over --input, which wins over the target's defaults. The commands take its two
    halves apart, to check the target before connecting."""
    return overlay(defaults, requested_input(extra, **flags))


def run(target: Target, machine: Machine, payload: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Start, follow state by state, return the output of a successful execution."""
    state_machine_arn = target.arns.get(machine.what)
    if not state_machine_arn:  # only a local stack started by an older version lacks one
        raise CliError(
            "InvalidInput",
            f"the running local stack has no {machine.what} state machine: run `python -m cli stop-local`, then retry",
        )
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


def print_output(output: dict[str, Any], csv_path: Path | None = None, terraform_path: Path | None = None) -> None:
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
    if terraform_path and output.get("terraform"):
        terraform_path.parent.mkdir(parents=True, exist_ok=True)
        terraform_path.write_text(json.dumps(output["terraform"], indent=2) + "\n")
        console.print(f"Terraform (streamkap_source_postgresql, the password read from its secret): {terraform_path}")
    console.print(f"\n[bold green]{status}[/]: the database is ready for Streamkap.")


P = ParamSpec("P")


def guarded(function: Callable[P, None]) -> Callable[P, None]:
    """Named errors (ours, the workflow's, AWS's) as `Name: message` and exit 1."""

    @functools.wraps(function)  # typer reads the wrapped signature
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            function(*args, **kwargs)
        except typer.Exit:  # a command's own exit status (a RuntimeError, caught below otherwise)
            raise
        except CliError as error:
            display.error(error.name, str(error))
            raise typer.Exit(1) from None
        except NoCredentialsError:
            display.error(
                "NoCredentials",
                "no AWS credentials: set AWS_PROFILE (a profile made by `aws configure`), run `aws configure`, "
                "or use --local for the local stack",
            )
            raise typer.Exit(1) from None
        except NoRegionError:
            display.error("NoRegion", "no AWS region: pass --region, or set AWS_REGION (or the profile's region)")
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
    target = connect(local=local, machines={SETUP: state_machine_arn}, region=region)
    payload = {**overlay(target.defaults, requested), "dry_run": True}
    refuse_locally(SetupInput, payload)
    print_output(run(target, SETUP, payload, "plan"))


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
    terraform: Annotated[
        Path,
        typer.Option(
            help="Where to write the source for Streamkap's Terraform provider (.tf.json); keep it beside the CSV."
        ),
    ] = Path("streamkap_source.tf.json"),
    local: Local = False,
    state_machine_arn: SetupArn = None,
    region: Region = None,
) -> None:
    """Run the setup, following it state by state; print the connector settings, write the tables CSV and the
    Terraform source."""
    requested = setup_request(input, instance, cluster, host, port, master_secret_arn, database, schema, table)
    target = connect(local=local, machines={SETUP: state_machine_arn}, region=region)
    payload = overlay(target.defaults, requested)
    refuse_locally(SetupInput, payload)
    print_output(run(target, SETUP, payload, "setup"), csv, terraform)


@app.command()
@guarded
def check(
    instance: Instance = None,
    cluster: Cluster = None,
    host: Host = None,
    port: Port = None,
    master_secret_arn: MasterSecret = None,
    database: Database = None,
    schema: Schemas = None,
    table: Tables = None,
    publish: Annotated[
        bool, typer.Option("--publish", help="Add unpublished tables (policy publish), under setup's rules.")
    ] = False,
    repair: Annotated[
        bool, typer.Option("--repair", help="Recreate a lost publication or slot, as setup would (new snapshot).")
    ] = False,
    input: Input = None,
    local: Local = False,
    check_arn: CheckArn = None,
    region: Region = None,
) -> None:
    """What drifted on a prepared target since setup: one finding per line (exit 1 if any). Give the settings
    setup used (--input). Changes nothing unless --publish or --repair."""
    requested = setup_request(input, instance, cluster, host, port, master_secret_arn, database, schema, table)
    requested |= {"policy": "publish"} if publish else {}
    requested |= {"repair": True} if repair else {}
    target = connect(local=local, machines={CHECK: check_arn}, region=region)
    payload = overlay(target.defaults, requested)
    refuse_locally(CheckInput, payload)
    output = run(target, CHECK, payload, "check")
    print_check(output)
    if output.get("findings"):
        raise typer.Exit(1)


def print_check(output: dict[str, Any]) -> None:
    for finding in output.get("findings") or []:
        console.print(f"[bold]{finding['kind']}[/] {escape(finding['subject'])}: {escape(finding['detail'])}")
    for change in output.get("changes") or []:
        console.print(f"changed: {escape(change)}")
    console.print(escape(output.get("message", "")))


# list_executions does not return an execution's input, so finding a target's executions describes
# each one: only this many of each workflow's latest are looked at.
STATUS_SCAN = 50


def latest_executions(target: Target, wanted: dict[str, Any]) -> list[dict[str, Any]]:
    """Both workflows' executions, newest first; only those naming the wanted target, if any."""
    machines = [target.arns[m.what] for m in (SETUP, TEARDOWN) if m.what in target.arns]
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
    target = connect(local=local, machines={SETUP: state_machine_arn, TEARDOWN: teardown_arn}, region=region)
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
    check_schedule: Annotated[
        bool, typer.Option("--check-schedule", help="Delete the target's check schedule setup made.")
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
        drop_check_schedule=check_schedule or everything,
        force=force,
        dry_run=dry_run,
    )
    if not any(requested.get(part) for part in PARTS):
        raise CliError(
            "InvalidInput",
            f"nothing to remove: choose at least one of {', '.join(PART_FLAGS.values())}, or --all "
            "(each part is opt-in)",
        )
    target = connect(local=local, machines={TEARDOWN: teardown_arn}, region=region)
    defaults = {k: v for k, v in target.defaults.items() if k in ("db_instance_identifier", "database")}
    payload = overlay(defaults, requested)
    refuse_locally(TeardownInput, payload)
    print_output(run(target, TEARDOWN, payload, "teardown"))


@app.command()
@guarded
def fleet(
    instance: Annotated[
        list[str] | None, typer.Option("--instance", "-i", help="An RDS instance of the fleet (repeat).")
    ] = None,
    tag: Annotated[
        str | None, typer.Option("--tag", help="Every RDS instance with this tag: key=value, or key for any value.")
    ] = None,
    database: Database = None,
    schema: Schemas = None,
    table: Tables = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan each instance, changing nothing.")] = False,
    max_concurrency: Annotated[
        int | None, typer.Option("--max-concurrency", min=1, max=20, help="Setups at once (default 4).")
    ] = None,
    input: Annotated[
        str | None,
        typer.Option(
            "--input", help='More fleet input: a JSON object ({"setup": {...}, "max_instances": ...}), or @file.json.'
        ),
    ] = None,
    local: Local = False,
    fleet_arn: FleetArn = None,
    region: Region = None,
) -> None:
    """Set up many RDS instances (a list or a tag), one setup execution each; print each one's result."""
    one_name_per_flag("--schema", schema)
    one_name_per_flag("--table", table)
    given = requested_input(input)
    if instance and tag:
        raise CliError("InvalidInput", "give --instance (repeat) or --tag, not both")
    if instance or tag:
        given = {k: v for k, v in given.items() if k not in ("db_instance_identifiers", "tag")}
        given |= {"db_instance_identifiers": instance} if instance else {"tag": tag}
    if max_concurrency is not None:
        given["max_concurrency"] = max_concurrency
    flags = {"database": database, "schemas": schema, "tables": table, "dry_run": dry_run}
    setup = {**given.get("setup", {}), **{k: v for k, v in flags.items() if v not in (None, [], False)}}
    if not local and "db_instance_identifiers" not in given and "tag" not in given:
        raise CliError("InvalidInput", "name the fleet: --instance (repeat) or --tag key=value")
    target = connect(local=local, machines={FLEET: fleet_arn}, region=region)
    defaults = dict(target.defaults)  # the local stack's: its one instance, and its settings under every setup
    if "db_instance_identifiers" not in given and "tag" not in given:
        given["db_instance_identifiers"] = [defaults["db_instance_identifier"]]
    shared = {k: v for k, v in defaults.items() if k not in TARGET_KEYS}
    payload = {**given, "setup": {**shared, **setup}}
    refuse_locally(FleetInput, payload)
    print_fleet(run(target, FLEET, payload, "fleet"))


def print_fleet(output: dict[str, Any]) -> None:
    """One line per instance; a failed one's execution ARN under it (`status <arn>` shows it whole).
    Exits 1 unless every instance succeeded."""
    counts = ", ".join(f"{status} {n}" for status, n in output.get("counts", {}).items())
    console.print(f"\n[bold]Fleet of {len(output['instances'])} instance(s):[/] {counts}")
    for member in output["instances"]:
        failed = member["status"] == "Failed"
        mark = "[red]✗[/]" if failed else "[green]✓[/]"
        error = f"  {member.get('error')}: {member.get('message') or ''}" if failed else ""
        console.print(f"  {mark} {member['db_instance_identifier']:<28} {member['status']}{escape(error)}")
        if failed and member.get("execution_arn"):
            console.print(f"      {member['execution_arn']}")
    status = output["status"]
    console.print(f"\n[{'bold green' if status == 'Succeeded' else 'bold red'}]{status}[/]")
    if status != "Succeeded":
        raise typer.Exit(1)


LAG_WINDOW = timedelta(hours=3)  # how far back the latest slot-lag datapoint is looked for


@app.command()
@guarded
def alarms(
    instance: Annotated[str | None, typer.Option("--instance", "-i", help="RDS instance.")] = None,
    cluster: Annotated[str | None, typer.Option("--cluster", "-c", help="Aurora cluster: its instances.")] = None,
    local: Local = False,
    region: Annotated[str | None, typer.Option(help="AWS region (default: the profile's).")] = None,
) -> None:
    """Read only: the CloudWatch alarms setup made for an instance or cluster, and the latest slot lag."""
    if instance and cluster:
        raise CliError("InvalidInput", "give --instance or --cluster, not both")
    if not (instance or cluster or local):
        raise CliError("InvalidInput", "name the target: --instance or --cluster")
    target = connect(local=local, machines={}, region=region)
    if cluster:
        [found] = target.client("rds").describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"]
        members = sorted(found["DBClusterMembers"], key=lambda m: not m["IsClusterWriter"])  # the writer first
        # Setup names the alarms after the writer it found; after a failover that is another member.
        instances = {m["DBInstanceIdentifier"]: " (writer)" if m["IsClusterWriter"] else "" for m in members}
    else:
        instances = {instance or target.defaults["db_instance_identifier"]: ""}
    cloudwatch = target.client("cloudwatch")
    for name, role in instances.items():
        show_alarms(cloudwatch, name, role)


def show_alarms(cloudwatch: Any, instance: str, role: str = "") -> None:
    ours = [
        alarm
        for page in cloudwatch.get_paginator("describe_alarms").paginate(
            AlarmNamePrefix=f"{ALARM_NAME_PREFIX}{instance}-", AlarmTypes=["MetricAlarm"]
        )
        for alarm in page["MetricAlarms"]
        if str(alarm.get("AlarmDescription") or "").startswith(alarm_marker(instance))  # not another's
    ]
    console.print(f"\n[bold]{instance}[/]{role}")
    if not ours:
        console.print("  No alarms of rds-cdc-setup (setup makes them; a self-managed server gets none).")
    else:
        width = max(len(alarm["AlarmName"]) for alarm in ours)
        for alarm in ours:  # plain lines, never truncated: the names are for copying
            sign = ">" if alarm["ComparisonOperator"].startswith("Greater") else "<"
            state = alarm["StateValue"]
            color = {"OK": "green", "ALARM": "bold red"}.get(state, "yellow")
            since = alarm.get("StateUpdatedTimestamp")
            console.print(
                f"  {alarm['AlarmName']:<{width}}  [{color}]{state:<17}[/]  "
                f"{alarm['MetricName']} {sign} {alarm['Threshold'] / GIB:g} GiB"
                + (f", since {since.strftime('%Y-%m-%d %H:%M')} UTC" if since else "")
            )
    end = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/RDS",
        MetricName="OldestReplicationSlotLag",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": instance}],
        StartTime=end - LAG_WINDOW,
        EndTime=end,
        Period=300,
        Statistics=["Maximum"],
    )["Datapoints"]
    if points:
        latest = max(points, key=lambda p: p["Timestamp"])
        at = latest["Timestamp"].strftime("%Y-%m-%d %H:%M UTC")
        console.print(f"  Slot lag (OldestReplicationSlotLag, 5-minute maximum at {at}): {size(latest['Maximum'])}")
    else:
        hours = LAG_WINDOW.total_seconds() / 3600
        console.print(f"  Slot lag: no OldestReplicationSlotLag datapoint in the last {hours:g} hours")


def size(value: float) -> str:
    for unit, factor in (("GiB", GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= factor:
            return f"{value / factor:.1f} {unit}"
    return f"{value:.0f} bytes"


@app.command("stop-local")
def stop_local() -> None:
    """Stop the local stack and throw its database away."""
    from local.stack import stop

    console.print("Local stack stopped." if stop() else "No local stack running.")
