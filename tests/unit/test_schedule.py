"""The check schedule's name, input and updates (lambdas/logic/schedule.py, lambdas/shared/names.py), on moto's
Scheduler: what the workflow tests (tests/workflow/test_check.py) do not vary. <1 s."""

from __future__ import annotations

import json
import re

import boto3
import pytest
from moto import mock_aws

from lambdas.dal.scheduler import Schedules
from lambdas.logic.schedule import (
    check_input,
    ensure_check_schedule,
    event_prefixes,
    prepared_inputs,
    schedule_name,
    schedule_plan_line,
    too_long_for_a_schedule,
)
from lambdas.shared.check_models import CheckInput
from lambdas.shared.models import SetupInput, Target
from lambdas.shared.names import check_schedule_name, check_schedule_prefix
from lambdas.shared.settings import Environment

SAFE = re.compile(r"[0-9a-zA-Z_.-]{1,64}")
ENV = Environment(
    CHECK_STATE_MACHINE_ARN="arn:aws:states:us-east-1:123456789012:stateMachine:rds-cdc-check",
    CHECK_SCHEDULER_ROLE_ARN="arn:aws:iam::123456789012:role/scheduler",
)


def target(database: str = "orders", cluster: str | None = None) -> Target:
    return Target(
        instance_id="orders-prod",
        cluster_id=cluster,
        engine="postgres",
        engine_version="16.3",
        major_version=16,
        status="available",
        parameter_group="g",
        parameter_group_family="postgres16",
        parameter_apply_status="in-sync",
        host="h",
        port=5432,
        database=database,
        master_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1",
    )


def test_names_are_schedulers_characters_and_never_meet():
    names = set()
    for ids in ({"instance_id": "a" * 63}, {"instance_id": "a" * 62}, {"cluster_id": "a" * 63}, {"instance_id": "x"}):
        for database in ("orders", "Orders", "a" * 19, "a" * 20, "a" * 63, "é-db", "db.1", "e-db"):
            names.add(check_schedule_name(check_schedule_prefix(**ids), database))
    for host, port in (("pg.internal", 5432), ("pg.internal", 6543), ("pg-internal", 5432), ("h" * 253, 5432)):
        names.add(check_schedule_name(check_schedule_prefix(host=host, port=port), "orders"))
    assert len(names) == 4 * 8 + 4 and all(SAFE.fullmatch(n) for n in names)
    assert check_schedule_name(check_schedule_prefix(instance_id="orders-prod"), "orders") == "db.orders-prod.orders"


@mock_aws
def test_a_rerun_changes_nothing_and_a_changed_setting_updates_the_schedule_in_place():
    boto3.client("scheduler", region_name="us-east-1").create_schedule_group(Name="rds-cdc-check")
    schedules = Schedules("rds-cdc-check", boto3.client("scheduler", region_name="us-east-1"))
    setup = SetupInput(db_instance_identifier="orders-prod", heartbeat="message")

    created = ensure_check_schedule(schedules, setup, target(), ENV)
    again = ensure_check_schedule(schedules, setup, target(), ENV)
    wider = setup.model_copy(update={"schemas": ["public", "inventory"]})
    updated = ensure_check_schedule(schedules, wider, target(), ENV.model_copy(update={"check_schedule": "off"}))

    assert created == ["created check schedule rds-cdc-check/db.orders-prod.orders: rate(1 hour)"]
    assert again == []
    assert updated == [
        "updated check schedule rds-cdc-check/db.orders-prod.orders: disabled (check_schedule off) "
        "(state, input changed)"
    ]
    kept = schedules.get("db.orders-prod.orders")
    assert kept is not None and kept.state == "DISABLED"
    # the input is a valid check input, what setup found and chose, defaults left out
    given = json.loads(kept.input)
    assert given == {
        "db_instance_identifier": "orders-prod",
        "database": "orders",
        "schemas": ["public", "inventory"],
        "heartbeat": "message",
    }
    assert CheckInput.model_validate(given).target_id == "orders-prod"


@mock_aws
def test_a_lifecycle_event_finds_every_database_prepared_on_its_target_and_only_those():
    boto3.client("scheduler", region_name="us-east-1").create_schedule_group(Name="rds-cdc-check")
    schedules = Schedules("rds-cdc-check", boto3.client("scheduler", region_name="us-east-1"))
    for database in ("orders", "billing"):
        ensure_check_schedule(schedules, SetupInput(db_instance_identifier="orders-prod"), target(database), ENV)
    other = SetupInput(db_instance_identifier="orders-prod-2")
    ensure_check_schedule(schedules, other, target().model_copy(update={"instance_id": "orders-prod-2"}), ENV)
    arn = "arn:aws:rds:us-east-1:123456789012:db:orders-prod"

    found = prepared_inputs(
        schedules, {"detail": {"SourceArn": arn}, "resources": [arn]}, repair=True, deployment_databases=no_deployment
    )

    assert sorted(i["database"] for i in found) == ["billing", "orders"]
    assert all(i["repair"] is True and i["db_instance_identifier"] == "orders-prod" for i in found)
    assert event_prefixes({"detail": {"SourceArn": "arn:aws:rds:us-east-1:1:deployment:bgd-1"}}, lambda _: []) == []
    cluster = schedule_name(SetupInput(db_cluster_identifier="orders-aurora"), target(cluster="orders-aurora"))
    assert cluster == "cluster.orders-aurora.orders"
    assert event_prefixes(
        {"detail": {"SourceArn": "arn:aws:rds:us-east-1:1:cluster:orders-aurora"}}, no_deployment
    ) == ["cluster.orders-aurora."]


def no_deployment(deployment_id: str) -> list[str]:
    raise AssertionError(f"an instance's or cluster's event looked up deployment {deployment_id}")


@pytest.mark.parametrize(
    ("members", "prefixes"),
    [
        # before the switchover: the source is the prepared database, the green one has another name
        (
            ["arn:aws:rds:us-east-1:1:db:orders-prod", "arn:aws:rds:us-east-1:1:db:orders-prod-green-abc"],
            ["db.orders-prod.", "db.orders-prod-green-abc."],
        ),
        # after it: the green database carries the prepared name, the old one "-old1"
        (
            ["arn:aws:rds:us-east-1:1:db:orders-prod-old1", "arn:aws:rds:us-east-1:1:db:orders-prod"],
            ["db.orders-prod-old1.", "db.orders-prod."],
        ),
        (
            ["arn:aws:rds:us-east-1:1:cluster:orders-aurora-old1", "arn:aws:rds:us-east-1:1:cluster:orders-aurora"],
            ["cluster.orders-aurora-old1.", "cluster.orders-aurora."],
        ),
        ([], []),  # the deployment is gone: nothing to check
    ],
)
def test_a_blue_green_event_is_about_its_deployments_source_and_target(members, prefixes):
    asked = []

    def databases(deployment_id: str) -> list[str]:
        asked.append(deployment_id)
        return members

    arn = "arn:aws:rds:us-east-1:1:deployment:bgd-0123456789abcdef"
    assert event_prefixes({"detail": {"SourceArn": arn}, "resources": [arn]}, databases) == prefixes
    assert asked == ["bgd-0123456789abcdef"]  # once, though the event names it twice


@mock_aws
def test_an_input_too_long_for_a_schedule_gets_none_and_says_so_and_an_earlier_one_is_deleted():
    boto3.client("scheduler", region_name="us-east-1").create_schedule_group(Name="rds-cdc-check")
    schedules = Schedules("rds-cdc-check", boto3.client("scheduler", region_name="us-east-1"))
    short = SetupInput(db_instance_identifier="orders-prod", heartbeat="message", tables=["public.orders"])
    assert ensure_check_schedule(schedules, short, target(), ENV)[0].startswith("created check schedule")
    long = short.model_copy(update={"tables": [f"public.table_{i:05d}" for i in range(600)]})

    line = schedule_plan_line(long, target(), ENV)
    changes = ensure_check_schedule(schedules, long, target(), ENV)

    assert line.startswith("no check schedule for this target: the check's input (the tables list) is ")
    assert "a schedule holds at most 8192" in line and "python -m cli check" in line
    assert changes == ["deleted check schedule rds-cdc-check/db.orders-prod.orders"]
    assert schedules.get("db.orders-prod.orders") is None
    assert ensure_check_schedule(schedules, long, target(), ENV) == []  # nothing left to delete
    assert too_long_for_a_schedule(short, target()) is None and too_long_for_a_schedule(long, target()) == line


def test_the_schedules_input_never_carries_adopt_so_a_scheduled_repair_takes_over_nothing():
    adopting = SetupInput(db_instance_identifier="orders-prod", heartbeat="message", adopt=["slot", "publication"])
    given = check_input(adopting, target())
    assert "adopt" not in given and given["db_instance_identifier"] == "orders-prod"
    assert CheckInput.model_validate(given).adopt == []  # the check it starts adopts nothing
