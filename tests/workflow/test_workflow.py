"""The state machine definition itself, executed: paths, idempotency, named errors, secrets."""

from __future__ import annotations

import io
import json
import logging

import boto3
import pytest

from tests.snapshots import everything
from tests.workflow.conftest import make_stack

pytestmark = pytest.mark.workflow

CONNECTOR_FIELDS = {
    "hostname",
    "port",
    "database",
    "username",
    "password_secret_arn",
    "signal_table_schema",
    "replication_slot_name",
    "publication_name",
    "snapshot_mode",
    "binary_handling_mode",
    "snapshot_chunk_size",
    "max_batch_size",
}


def test_default_parameter_group_path_ends_ready_with_a_new_group_and_one_reboot(stack):
    execution = stack.run()

    assert execution.status == "SUCCEEDED", execution.cause
    output = execution.output
    assert output["status"] == "Ready"
    assert set(output["connector"]) == CONNECTOR_FIELDS
    assert output["connector"]["port"] == stack.server.port and output["connector"]["database"] == "orders"
    major = stack.server.major_version
    # PG10-12 cannot publish a partitioned table: its leaf partitions are listed instead.
    events = "public.events\n" if major >= 13 else "public.events_2025\npublic.events_2026\n"
    assert output["tables_csv"] == f"inventory.stock\n{events}public.items\npublic.orders\n"
    assert output["verification"]["wal_level"] == "logical" and output["verification"]["peek_ok"]
    assert f"create parameter group orders-prod-streamkap-cdc (family postgres{major})" in output["changes"]
    assert stack.instance.reboots == 1
    assert stack.describe()["DBParameterGroups"] == [
        {"DBParameterGroupName": "orders-prod-streamkap-cdc", "ParameterApplyStatus": "in-sync"}
    ]
    assert stack.sql("SHOW wal_level") == [["logical"]]
    assert stack.sql("SHOW wal_sender_timeout") == [["0"]]
    # PostgreSQL 13+: WAL for the slot is bounded by default, from the 20 GiB the emulated instance has
    guard = "max_slot_wal_keep_size=2048 in parameter group orders-prod-streamkap-cdc"
    assert any(guard in line for line in output["changes"]) == (major >= 13)
    assert stack.sql("SHOW max_slot_wal_keep_size") == [["2GB"]] if major >= 13 else True
    assert "CheckRebootStatus" in execution.states_entered


def test_a_team_group_used_only_by_the_target_is_copied_not_modified(new_server):
    # Given the instance on the team's own group (no owner tag), with a value of the team's in it
    for stack in make_stack(new_server, parameter_group="team-pg15"):
        rds = boto3.client("rds")
        rds.modify_db_parameter_group(
            DBParameterGroupName="team-pg15",
            Parameters=[{"ParameterName": "work_mem", "ParameterValue": "65536", "ApplyMethod": "immediate"}],
        )
        team_before = rds.describe_db_parameters(DBParameterGroupName="team-pg15")["Parameters"]

        execution = stack.run()

        assert execution.status == "SUCCEEDED", execution.cause
        changes = execution.output["changes"]
        guard = [
            "set max_slot_wal_keep_size=2048 in parameter group orders-prod-streamkap-cdc "
            "(MB, the default for 20 GiB of allocated storage)"
        ]
        guard = guard if stack.server.major_version >= 13 else []
        assert changes[: 4 + len(guard)] == [
            "copy parameter group team-pg15 to orders-prod-streamkap-cdc (team-pg15 is not the workflow's; "
            "it stays as it is)",
            "set rds.logical_replication=1 in parameter group orders-prod-streamkap-cdc",
            "set wal_sender_timeout=0 in parameter group orders-prod-streamkap-cdc",
            *guard,
            "attach parameter group orders-prod-streamkap-cdc to instance orders-prod",
        ]
        # the team's group is as it was; the copy keeps the team's value and is the workflow's
        assert rds.describe_db_parameters(DBParameterGroupName="team-pg15")["Parameters"] == team_before
        copy = rds.describe_db_parameter_groups(DBParameterGroupName="orders-prod-streamkap-cdc")["DBParameterGroups"]
        copied = {p["ParameterName"]: p["ParameterValue"] for p in rds.describe_db_parameters(
            DBParameterGroupName="orders-prod-streamkap-cdc")["Parameters"]}  # fmt: skip
        assert copied["work_mem"] == "65536" and copied["rds.logical_replication"] == "1"
        tags = rds.list_tags_for_resource(ResourceName=copy[0]["DBParameterGroupArn"])["TagList"]
        assert {"Key": "created-by", "Value": "rds-cdc-setup"} in tags
        assert stack.describe()["DBParameterGroups"][0]["DBParameterGroupName"] == "orders-prod-streamkap-cdc"
        assert stack.instance.reboots == 1 and stack.sql("SHOW wal_level") == [["logical"]]


def test_a_ready_database_gets_no_reboot_no_parameter_change_and_no_ddl(stack):
    first = stack.run()
    assert first.status == "SUCCEEDED", first.cause
    calls_before, log_before = list(stack.instance.calls), len(stack.server.log_text())

    second = stack.run()

    assert second.status == "SUCCEEDED", second.cause
    assert second.output["changes"] == []
    assert second.output["connector"] == first.output["connector"]
    assert second.output["tables_csv"] == first.output["tables_csv"]
    assert stack.instance.calls == calls_before  # no ModifyDBParameterGroup/ModifyDBInstance/Reboot
    assert "RebootInstance" not in second.states_entered
    new_log = stack.server.log_text()[log_before:]
    assert not any(f"statement: {verb}" in new_log for verb in ("CREATE", "ALTER", "GRANT", "DROP"))


def test_reboot_never_stops_with_reboot_pending_and_a_later_run_finishes(stack):
    pending = stack.run(reboot="never")
    assert pending.status == "SUCCEEDED", pending.cause
    assert pending.output["status"] == "RebootPending"
    assert stack.instance.reboots == 0 and stack.sql("SHOW wal_level") == [["replica"]]
    assert stack.describe()["DBParameterGroups"][0]["ParameterApplyStatus"] == "pending-reboot"

    finished = stack.run()
    assert finished.output["status"] == "Ready"
    assert stack.instance.reboots == 1
    assert not any(c.startswith("create parameter group") for c in finished.output["changes"])


def test_a_message_heartbeat_needs_no_table_from_postgresql_14_and_is_refused_below(stack):
    execution = stack.run(heartbeat="message")
    if stack.server.major_version < 14:  # the matrix's PostgreSQL 10
        assert (execution.status, execution.error) == ("FAILED", "InvalidInput"), execution.cause
        assert "heartbeat 'message' needs PostgreSQL 14" in execution.cause
        assert "EnsureParameterGroup" not in execution.states_entered and stack.instance.calls == []
        return
    assert execution.status == "SUCCEEDED", execution.cause
    output = execution.output
    assert output["verification"]["heartbeat_seen"] is True
    assert output["verification"]["published_tables"] == output["tables_count"] + 1  # the signal table alone
    assert stack.sql("SELECT to_regclass('streamkap.streamkap_heartbeat')") == [[None]]
    [source] = output["terraform"]["resource"]["streamkap_source_postgresql"].values()
    assert source["heartbeat_enabled"] is True


def test_a_failover_slot_from_postgresql_17_with_its_standby_parameters_and_refused_below(stack):
    execution = stack.run(failover_slot=True)
    if stack.server.major_version < 17:  # the default server (15) and the matrix's 10
        assert (execution.status, execution.error) == ("FAILED", "InvalidInput"), execution.cause
        assert "failover_slot needs PostgreSQL 17+" in execution.cause
        assert "EnsureParameterGroup" not in execution.states_entered and stack.instance.calls == []
        return
    assert execution.status == "SUCCEEDED", execution.cause
    slot = execution.output["connector"]["replication_slot_name"]
    assert stack.sql(
        "SELECT slot_name::text, plugin::text, slot_type, database::text, temporary, two_phase, failover, synced "
        "FROM pg_replication_slots"
    ) == [[slot, "pgoutput", "logical", "orders", False, False, True, False]]
    # the standby side's parameters, in the group and (dynamic) on the server; then a re-run changes nothing
    assert stack.sql("SELECT current_setting('sync_replication_slots'), current_setting('hot_standby_feedback')") == [
        ["on", "on"]
    ]
    assert (
        f"created replication slot {slot} (pgoutput, failover: synced to standbys running sync_replication_slots)"
        in (execution.output["changes"])
    )
    again = stack.run(failover_slot=True)
    assert (again.status, again.output["changes"]) == ("SUCCEEDED", []), again.cause


def test_dry_run_returns_the_plan_and_changes_nothing(stack):
    before = everything(stack.server, "orders")
    execution = stack.run(dry_run=True)
    assert everything(stack.server, "orders") == before  # no SQL write, no RDS change, no secret
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["status"] == "DryRun"
    plan = execution.output["plan"]
    assert plan[0] == f"create parameter group orders-prod-streamkap-cdc (family postgres{stack.server.major_version})"
    assert "create replication slot streamkap_pgoutput_slot (pgoutput)" in plan
    # The reboot's cost is in the plan, before anyone approves the run.
    [reboot] = [step for step in plan if step.startswith("reboot instance orders-prod")]
    assert "the database is down until it is back" in reboot and "reboot: never" in reboot
    assert stack.instance.calls == [] and stack.instance.reboots == 0
    [deferred] = [s for s in stack.run(dry_run=True, reboot="never").output["plan"] if s.startswith("reboot instance")]
    assert "not in this run (reboot: never)" in deferred and "RebootPending" in deferred
    assert stack.sql("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'streamkap%'") == [[0]]
    assert stack.sql("SELECT count(*) FROM pg_publication") == [[0]]


def test_bad_input_fails_as_invalid_input_before_touching_anything(stack):
    execution = stack.run(slot_name="Bad-Slot; DROP TABLE orders")
    assert execution.status == "FAILED"
    assert execution.error == "InvalidInput"
    assert "slot_name" in execution.cause
    assert execution.states_entered[-3:] == ["ValidateInput", "NotifyFailure", "Failed"]
    assert "DescribeTarget" not in execution.states_entered
    assert stack.instance.calls == []


def test_unknown_instance_fails_as_target_not_found(stack):
    execution = stack.workflow.run({"db_instance_identifier": "no-such-db"})
    assert execution.error == "TargetNotFound"
    assert "no-such-db" in execution.cause


def test_reboot_that_never_completes_fails_with_reboot_timeout(new_server):
    for stack in make_stack(new_server, describes_per_reboot=1000):
        execution = stack.run(poll_seconds=30, max_wait_minutes=2)
        assert execution.error == "RebootTimeout", execution.cause
        assert execution.states_entered.count("CheckRebootStatus") == 4  # 2 minutes / 30 s
        assert stack.sql("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'streamkap%'") == [[0]]


def test_failures_are_published_to_the_notification_topic(stack):
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=stack.workflow.topic_arn, Protocol="sqs", Endpoint=queue_arn)

    stack.workflow.run({"db_instance_identifier": "no-such-db"})

    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    body = json.loads(json.loads(messages[0]["Body"])["Message"])
    assert body["error"] == "TargetNotFound" and body["instance"] == "no-such-db"


def test_no_secret_appears_in_the_execution_history_output_or_logs(stack, capfd):
    from lambdas.shared.observability import logger

    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    logger.addHandler(handler)
    logger.setLevel("DEBUG")  # every log line the steps can write
    try:
        execution = stack.run()
    finally:
        logger.setLevel("WARNING")
        logger.removeHandler(handler)
    assert execution.status == "SUCCEEDED", execution.cause
    outputs = capfd.readouterr()
    logs = captured.getvalue() + outputs.out + outputs.err
    sm = boto3.client("secretsmanager")
    user_secret = json.loads(
        sm.get_secret_value(SecretId=execution.output["connector"]["password_secret_arn"])["SecretString"]
    )
    history = json.dumps(execution.events, default=str) + json.dumps(execution.output)
    assert "database configured" in logs  # the logs were captured at all
    for password in (stack.server.master_password, user_secret["password"]):
        assert password not in history
        assert password not in logs
        assert password not in stack.server.log_text()
    assert user_secret["username"] == "streamkap_user"


def test_a_second_execution_for_the_same_instance_stops_before_changing_anything(new_server):
    for stack in make_stack(new_server, describes_per_reboot=40):  # the first run sits in its reboot loop a while
        first = stack.workflow.start({"db_instance_identifier": "orders-prod", "schemas": ["public", "inventory"]})
        events = stack.workflow.follow(first)
        next(e for e in events if e.get("stateEnteredEventDetails", {}).get("name") == "WaitForReboot")

        second = stack.workflow.run({"db_instance_identifier": "orders-prod"})

        assert second.error == "ConcurrentExecution", second.cause
        assert first.rsplit(":", 1)[-1] in second.cause
        assert "DescribeTarget" not in second.states_entered
        finished = stack.workflow.wait(first)
        assert finished.status == "SUCCEEDED" and finished.output["status"] == "Ready"
        assert stack.instance.reboots == 1


def test_every_step_after_validation_is_given_the_execution_arn_for_its_log_lines(stack):
    execution = stack.run()

    assert execution.status == "SUCCEEDED", execution.cause
    entered = [e["stateEnteredEventDetails"] for e in execution.events if "stateEnteredEventDetails" in e]
    after = [d for d in entered[[d["name"] for d in entered].index("ValidateInput") + 1 :] if d["name"] != "Report"]
    assert after and {d["name"]: json.loads(d["input"]).get("execution_arn") for d in after} == {
        d["name"]: execution.arn for d in after
    }
    assert "execution_arn" not in execution.output  # the output is Report's, as before
