"""EventBridge starts and the alarms step, through the real ASL: an untagged instance ends
`Skipped`, a tagged one is set up with its tagged settings, the plain input is unchanged."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from local.workflow_runner import Execution
from tests.workflow.conftest import INSTANCE, Stack

pytestmark = pytest.mark.workflow

TRIGGER_STATES = ["IsEventTrigger", "ReadTriggerTags", "IsOptedIn"]
METRICS = {"OldestReplicationSlotLag", "TransactionLogsDiskUsage", "FreeStorageSpace"}
GIB = 1024**3


def instance_arn() -> str:
    return boto3.client("rds").describe_db_instances(DBInstanceIdentifier=INSTANCE)["DBInstances"][0]["DBInstanceArn"]


def tag(tags: dict[str, str]) -> None:
    boto3.client("rds").add_tags_to_resource(
        ResourceName=instance_arn(), Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
    )


def created_event() -> dict[str, Any]:
    """RDS-EVENT-0005 as EventBridge delivers it to the state machine."""
    arn = instance_arn()
    return {
        "version": "0",
        "id": "68f6e973-1a0c-d37b-f2f2-94a7f62ffd4e",
        "detail-type": "RDS DB Instance Event",
        "source": "aws.rds",
        "account": "123456789012",
        "time": "2024-05-01T10:00:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": {
            "EventCategories": ["creation"],
            "SourceType": "DB_INSTANCE",
            "SourceArn": arn,
            "Date": "2024-05-01T10:00:00.000Z",
            "Message": "DB instance created",
            "SourceIdentifier": INSTANCE,
            "EventID": "RDS-EVENT-0005",
        },
    }


def tag_change_event(tags: dict[str, str]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "ffd8a6fe-32f8-ef66-c85c-111111111111",
        "detail-type": "Tag Change on Resource",
        "source": "aws.tag",
        "account": "123456789012",
        "time": "2024-05-01T10:00:00Z",
        "region": "us-east-1",
        "resources": [instance_arn()],
        "detail": {
            "changed-tag-keys": ["streamkap:cdc"],
            "service": "rds",
            "resource-type": "db",
            "version": 2,
            "tags": tags,
        },
    }


def alarms() -> dict[str, dict[str, Any]]:
    found = boto3.client("cloudwatch").describe_alarms(AlarmNamePrefix="rds-cdc-setup-")["MetricAlarms"]
    return {alarm["MetricName"]: alarm for alarm in found}


def state_output(execution: Execution, state: str) -> dict[str, Any]:
    [output] = [
        json.loads(e["stateExitedEventDetails"]["output"])
        for e in execution.events
        if e.get("stateExitedEventDetails", {}).get("name") == state
    ]
    return output


@pytest.mark.parametrize("tags", [{}, {"streamkap:cdc": "disabled"}], ids=["untagged", "opted-out"])
def test_an_instance_without_the_opt_in_tag_ends_skipped_and_is_not_touched(stack: Stack, tags: dict[str, str]):
    # Given an instance without streamkap:cdc=enabled, created (RDS-EVENT-0005)
    if tags:
        tag(tags)

    # When the rule starts the workflow with the event
    execution = stack.workflow.run(created_event())

    # Then it succeeds as Skipped, right after reading the tags, and nothing was done to it
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["status"] == "Skipped"
    assert execution.output["db_instance_identifier"] == INSTANCE
    assert ("streamkap:cdc=disabled" if tags else "no streamkap:cdc tag") in execution.output["message"]
    assert execution.states_entered == [*TRIGGER_STATES, "Skipped"]
    assert stack.instance.calls == [] and stack.instance.reboots == 0
    assert stack.sql("SELECT count(*) FROM pg_replication_slots") == [[0]]
    assert alarms() == {}


def test_a_tagged_instance_is_set_up_with_its_tagged_settings_and_gets_alarms(stack: Stack):
    # Given the opt-in tag and settings as tags: schemas, an alarm threshold and the WAL guard
    tags = {
        "streamkap:cdc": "enabled",
        "streamkap:cdc/database": "orders",
        "streamkap:cdc/schemas": "public inventory",
        "streamkap:cdc/alarm-slot-lag-gib": "2",
    }
    wal_guard = stack.server.major_version >= 13  # max_slot_wal_keep_size exists from PostgreSQL 13
    if wal_guard:
        tags["streamkap:cdc/max-slot-wal-keep-size-mb"] = "4096"
    tag(tags)

    # When the tag change starts the workflow
    execution = stack.workflow.run(tag_change_event(tags))

    # Then the event path leads into the normal workflow with the tagged settings
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.states_entered[:5] == [*TRIGGER_STATES, "UseTaggedSettings", "ValidateInput"]
    assert execution.output["status"] == "Ready"
    assert "inventory.stock" in execution.output["tables_csv"]
    if wal_guard:
        guard = "set max_slot_wal_keep_size=4096 in parameter group orders-prod-streamkap-cdc"
        assert guard in execution.output["changes"]
        assert stack.sql("SHOW max_slot_wal_keep_size") == [["4GB"]]
    # And CreateAlarms ran after Verify: three alarms on the instance, to the topic, tagged threshold used
    entered = execution.states_entered
    assert entered.index("CreateAlarms") == entered.index("Verify") + 2  # after the HasRdsMetrics choice
    assert entered[entered.index("Verify") + 1] == "HasRdsMetrics"
    created = alarms()
    assert created.keys() == METRICS
    for alarm in created.values():
        assert alarm["Dimensions"] == [{"Name": "DBInstanceIdentifier", "Value": INSTANCE}]
        assert alarm["AlarmActions"] == alarm["OKActions"] == [stack.workflow.topic_arn]
    assert created["OldestReplicationSlotLag"]["Threshold"] == 2 * GIB
    assert created["FreeStorageSpace"]["ComparisonOperator"] == "LessThanThreshold"
    assert sorted(state_output(execution, "CreateAlarms")["alarms"]["changes"]) == sorted(
        f"created alarm rds-cdc-setup-{INSTANCE}-{metric} ({summary})"
        for metric, summary in (
            ("OldestReplicationSlotLag", "OldestReplicationSlotLag > 2 GiB"),
            ("TransactionLogsDiskUsage", "TransactionLogsDiskUsage > 10 GiB"),
            ("FreeStorageSpace", "FreeStorageSpace < 5 GiB"),
        )
    )


def test_a_misspelt_setting_tag_fails_as_invalid_input(stack: Stack):
    tag({"streamkap:cdc": "enabled", "streamkap:cdc/databse": "orders"})

    execution = stack.workflow.run(created_event())

    assert execution.status == "FAILED"
    assert execution.error == "InvalidInput" and "databse" in execution.cause
    assert stack.instance.calls == []


def test_the_plain_input_still_starts_at_validate_input_and_a_dry_run_creates_no_alarm(stack: Stack):
    execution = stack.run(dry_run=True)

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["status"] == "DryRun"
    assert execution.states_entered[:2] == ["IsEventTrigger", "ValidateInput"]
    assert "CreateAlarms" not in execution.states_entered
    assert alarms() == {}


def test_a_second_run_changes_no_alarm_and_new_thresholds_update_them(stack: Stack):
    first = stack.run()
    assert first.status == "SUCCEEDED", first.cause
    assert len(state_output(first, "CreateAlarms")["alarms"]["changes"]) == 3

    again = stack.run()
    changed = stack.run(alarm_free_storage_gib=20)

    assert state_output(again, "CreateAlarms")["alarms"]["changes"] == []
    assert state_output(changed, "CreateAlarms")["alarms"]["changes"] == [
        f"updated alarm rds-cdc-setup-{INSTANCE}-FreeStorageSpace (FreeStorageSpace < 20 GiB)"
    ]
    assert alarms()["FreeStorageSpace"]["Threshold"] == 20 * GIB
