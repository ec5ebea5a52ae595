"""`make demo`: the whole workflow on a real local PostgreSQL behind an emulated RDS API.

Creates a sample database on an instance that uses a default parameter group, runs one
execution of the real state machine, prints every state as it runs, the connector
settings as the Streamkap form and the tables CSV, then proves the result: a new row, decoded
from the slot as streamkap_user, then runs again registering the source with a local stand-in of
Streamkap's API, whose connector advances the slot; it ends with what to run next, since its server is
thrown away."""

from __future__ import annotations

import json
import os
import sys
from typing import Any
from unittest import mock

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # every AWS call is inside mock_aws, with its fake keys

import boto3
from moto import mock_aws

from cli.form import FORM_TITLE, STREAMKAP_GUIDE, form_lines, verified_line
from lambdas.shared.models import SetupInput
from lambdas.shared.names import DEFAULT_OPT_IN_TAG
from lambdas.shared.steps import Workflow
from local.pgoutput import decode
from local.postgres_server import LocalPostgres, for_major
from local.rds_emulator import EmulatedInstance, RdsEmulator
from local.streamkap_api import CLIENT_ID, CLIENT_SECRET, StreamkapStandIn
from local.workflow_runner import ROOT, LocalWorkflow

INSTANCE = "orders-prod"
SAMPLE = """
CREATE SCHEMA inventory;
CREATE TABLE public.orders (id int PRIMARY KEY, customer text NOT NULL, total numeric(10,2), placed date);
CREATE TABLE public.order_events (order_id int, at timestamptz, kind text, PRIMARY KEY (order_id, at))
    PARTITION BY RANGE (at);
CREATE TABLE public.order_events_2026h1 PARTITION OF public.order_events
    FOR VALUES FROM ('2026-01-01') TO ('2026-07-01');
CREATE TABLE public.order_events_2026h2 PARTITION OF public.order_events
    FOR VALUES FROM ('2026-07-01') TO ('2027-01-01');
CREATE TABLE inventory.stock (sku text PRIMARY KEY, quantity int NOT NULL);
INSERT INTO public.orders SELECT g, 'customer ' || g, g * 10.5, DATE '2026-11-01' + g FROM generate_series(1, 20) g;
INSERT INTO public.order_events SELECT g, TIMESTAMPTZ '2026-03-01' + g * INTERVAL '20 days', 'placed'
    FROM generate_series(1, 10) g;
INSERT INTO inventory.stock VALUES ('sku-1', 40), ('sku-2', 7)
"""
# allow_cidrs: a documentation range standing for Streamkap's published addresses (the access rule).
EXECUTION_INPUT = {
    "db_instance_identifier": INSTANCE,
    "schemas": ["public", "inventory"],
    "publication_mode": "tables",
    "poll_seconds": 5,
    "allow_cidrs": ["203.0.113.0/24"],
}
PUBLICATION_MODES = (
    "publication_mode tables: the captured schemas' tables, listed (schemas and all_tables are tried in a rolled-back\n"
    "transaction first: this RDS-like master may not create them and would get PublicationModeNotAllowed)"
)
CHECK_ASL = ROOT / "statemachine" / Workflow.CHECK.value
WAIT_SECONDS = 0.01  # each Wait state, at most: the emulated reboot is done at the first poll anyway
WAITS = (
    f"Waits are shortened here: each Wait state lasts at most {WAIT_SECONDS * 1000:.0f} ms (on AWS, poll_seconds: "
    f"{EXECUTION_INPUT['poll_seconds']} s in this input, {SetupInput.model_fields['poll_seconds'].default} s by\n"
    "default) and the emulated reboot takes no time (on RDS it takes minutes, the database unavailable meanwhile;\n"
    "a Multi-AZ instance reboots in place, no failover forced). `reboot: never` stops the workflow before it instead."
)
# Printed last: the demo's server is gone by then, so it says what to run next.
NEXT_STEPS = f"""
This server and its emulated AWS are thrown away as the demo ends: the host, port and secret above are gone.
Next:
  - The same workflow on a local stack that stays up (make venv first, for the CLI's packages):
      .venv/bin/python -m cli plan --local      # the plan, changing nothing
      .venv/bin/python -m cli setup --local     # the run; then: status --local, teardown --local --all, stop-local
  - Your own database: deploy the stack (README "Deploy": make venv cdk; node_modules/.bin/cdk deploy -c vpc_id=...),
    tag the instance {DEFAULT_OPT_IN_TAG} (the deployment's opt_in_tag), then
      .venv/bin/python -m cli plan  -i <instance> --state-machine-arn <StateMachineArn output>
      .venv/bin/python -m cli setup -i <instance> --state-machine-arn <StateMachineArn output>
    and later, what drifted (the schedule runs it hourly; --publish adds new tables under setup's rules):
      .venv/bin/python -m cli check -i <instance> --check-arn <CheckStateMachineArn output>
  - Streamkap's password field: the secret the form names, read with
      aws secretsmanager get-secret-value --query SecretString --output text --secret-id <Password secret ARN>
    (a JSON object: paste its "password")
  - What each step does, and Streamkap's own guide: README "How it works", {STREAMKAP_GUIDE}"""


def say(text: str = "") -> None:
    print(text, flush=True)


def state_line(event: dict[str, Any], entered_at: dict[str, float]) -> str | None:
    """One line per state entered/left, timed from the execution history's own timestamps."""
    kind, at = event["type"], event["timestamp"].timestamp()
    if kind.endswith("StateEntered"):
        name = event["stateEnteredEventDetails"]["name"]
        entered_at[name] = at
        return f"  -> {name}"
    if kind.endswith("StateExited"):
        name = event["stateExitedEventDetails"]["name"]
        return f"  <- {name:<22} {(at - entered_at.get(name, at)) * 1000:7.0f} ms"
    if kind in ("TaskFailed", "LambdaFunctionFailed", "ExecutionFailed"):
        details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        return f"  !! {kind}: {details.get('error')}"
    return None


def start_sample_server() -> LocalPostgres:
    """A throw-away PostgreSQL at wal_level=replica holding the sample database `orders`."""
    server = LocalPostgres().init().start()
    try:
        server.create_database("orders")
        conn = server.connect("orders")
        for statement in for_major(list(filter(str.strip, SAMPLE.split(";"))), server.major_version):
            conn.run(statement)
        conn.close()
    except BaseException:
        server.destroy()
        raise
    return server


def add_sample_instance(emulator: RdsEmulator, server: LocalPostgres) -> EmulatedInstance:
    """The RDS instance `orders-prod` on a default parameter group, served by `server`.
    Call inside `mock_aws` with the emulator entered."""
    return emulator.add_instance(
        instance_id=INSTANCE,
        server=server,
        db_name="orders",
        engine_version=server.version,  # the emulated instance runs what the local server runs
        rds_client=boto3.client("rds"),
        secrets_client=boto3.client("secretsmanager"),
        publicly_accessible=True,  # Streamkap connects over the internet, from allow_cidrs
    )


def main() -> int:
    server = start_sample_server()
    try:
        say(
            f"PostgreSQL {server.major_version} on {server.host}:{server.port}, wal_level=replica "
            f"(a stock RDS instance on a default parameter group)\n"
            f"Master user {server.master_user!r} as RDS makes it: no superuser, CREATEROLE, CREATEDB, "
            f"a member of rds_superuser"
        )
        with (
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
            RdsEmulator() as emulator,
            LocalWorkflow(wait_seconds=WAIT_SECONDS) as workflow,
        ):
            add_sample_instance(emulator, server)
            return run(workflow, emulator, server)
    finally:
        server.destroy()


def run(workflow: LocalWorkflow, emulator: RdsEmulator, server: LocalPostgres) -> int:
    say(f"\nExecution input: {json.dumps(EXECUTION_INPUT)}\n{WAITS}\n")
    arn = workflow.start(EXECUTION_INPUT)
    entered_at: dict[str, float] = {}
    for event in workflow.follow(arn):
        line = state_line(event, entered_at)
        if line:
            say(line)
    described = boto3.client("stepfunctions").describe_execution(executionArn=arn)
    if described["status"] != "SUCCEEDED":
        say(f"\nFAILED: {described.get('error')}: {described.get('cause')}")
        return 1
    output = json.loads(described["output"])
    say(f"\nStatus: {output['status']}   (reboots: {emulator.instances[INSTANCE].reboots})")
    say("\nChanges made:")
    for change in output["changes"]:
        say(f"  - {change}")
    for warning in output.get("warnings") or []:
        say(f"\nWarning: {warning}")
    say(f"\n{FORM_TITLE}")
    say("\n".join(form_lines(output["connector"])))
    say("\nTables CSV (Streamkap's bulk upload, no header; the CLI writes it to tables.csv):")
    say("".join(f"  {line}\n" for line in output["tables_csv"].splitlines()).rstrip())
    say(f"\n{verified_line(output)}\n{PUBLICATION_MODES}")
    say_terraform(output["terraform"])
    if prove(output, server) or register(workflow, server):
        return 1
    say("\nThe database is ready for Streamkap.")
    say(NEXT_STEPS)
    return 0


def say_terraform(document: dict[str, Any]) -> None:
    """The output's `terraform`, the resource's attributes one per line (the CLI writes the whole .tf.json)."""
    [(label, source)] = document["resource"]["streamkap_source_postgresql"].items()
    say(f'\nTerraform (the CLI writes it to streamkap_source.tf.json): streamkap_source_postgresql "{label}"')
    for attribute, value in source.items():
        say(f"  {attribute:<44} {json.dumps(value)}")


def prove(output: dict, server: LocalPostgres) -> int:
    """Insert a row as the application would, then read it from the slot as streamkap_user."""
    connector = output["connector"]
    secret = json.loads(
        boto3.client("secretsmanager").get_secret_value(SecretId=connector["password_secret_arn"])["SecretString"]
    )
    master = server.connect("orders")
    master.run("INSERT INTO public.orders VALUES (1001, 'demo customer', 42.00, DATE '2026-11-25')")
    master.close()
    user = server.connect("orders", user=secret["username"], password=secret["password"])
    try:
        rows = user.run(
            "SELECT data FROM pg_logical_slot_peek_binary_changes(:slot, NULL, NULL, 'proto_version', '1', "
            "'publication_names', :pub)",
            slot=connector["replication_slot_name"],
            pub=f'"{connector["publication_name"]}"',
        )
    finally:
        user.close()
    changes = [c for c in decode([bytes(r[0]) for r in rows]) if c.table == "public.orders"]
    say(f"\nProof: inserted order 1001 as the application; {secret['username']} peeks the slot and decodes:")
    for change in changes:
        say(f"  {change}")
    if not any(c.values.get("id") == "1001" for c in changes):
        say("  FAILED: the new row is not in the slot")
        return 1
    return 0


def register(workflow: LocalWorkflow, server: LocalPostgres) -> int:
    """The same execution again, now with Streamkap API credentials: against the local stand-in of
    Streamkap's API, whose connector (pg_recvlogical) streams the slot."""
    secret = boto3.client("secretsmanager").create_secret(
        Name="streamkap-api/demo", SecretString=json.dumps({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    )
    # The stand-in as the deployment's Streamkap API (settings STREAMKAP_API_URL): the only one a run sends to.
    with StreamkapStandIn(server=server) as api, mock.patch.dict(os.environ, {"STREAMKAP_API_URL": api.url}):
        registering = {**EXECUTION_INPUT, "streamkap_api_secret_arn": secret["ARN"], "streamkap_api_url": api.url}
        say(f"\nAgain, registering the source in Streamkap (a local stand-in of its API at {api.url}):")
        execution = workflow.run(registering)
        if execution.status != "SUCCEEDED" or execution.output is None:
            say(f"  FAILED: {execution.error}: {execution.cause}")
            return 1
        source, streaming = execution.output["source"], execution.output["source_streaming"]
        say(f"  Streamkap source {source['name']} ({source['id']}): {source['connector_status']}")
        say(
            f"  its connector confirmed slot {streaming['slot_name']} to {streaming['confirmed_flush_lsn']}, "
            f"past the heartbeat at {streaming['heartbeat_lsn']}"
        )
        return day_two(server)  # while the stand-in's connector still streams the slot


def day_two(server: LocalPostgres) -> int:
    """The check workflow (rds-cdc-check), as its schedule would start it: the application adds a table
    setup never saw; the check names it, changing nothing; policy publish adds it under setup's rules."""
    master = server.connect("orders")
    master.run("CREATE TABLE public.returns (id int PRIMARY KEY, order_id int, reason text)")
    master.close()
    say("\nDay two: the application adds public.returns. The check workflow (hourly once deployed) reads the target:")
    with LocalWorkflow(asl_file=CHECK_ASL, wait_seconds=WAIT_SECONDS) as check:
        for title, extra in (("report (the default)", {}), ("policy publish", {"policy": "publish"}), ("again", {})):
            execution = check.run({**EXECUTION_INPUT, **extra})
            if execution.status != "SUCCEEDED" or execution.output is None:
                say(f"  FAILED: {execution.error}: {execution.cause}")
                return 1
            output = execution.output
            say(f"  check, {title}: {output['message']}")
            for finding in output["findings"]:
                say(f"    {finding['kind']} {finding['subject']}")
            for change in output["changes"]:
                say(f"    changed: {change}")
    if output["status"] != "Clean":
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
