"""Which of several running executions for an instance may go on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lambdas.logic.concurrency import RunningExecution, ensure_first, instance_of, state_machine_arn
from lambdas.shared.errors import ConcurrentExecution

PREFIX = "arn:aws:states:us-east-1:123456789012:execution:rds-cdc-setup:"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def run(name: str, seconds: int, instance: str | None = "orders-prod") -> RunningExecution:
    return RunningExecution(PREFIX + name, T0 + timedelta(seconds=seconds), instance)


def test_the_state_machine_arn_is_derived_from_the_execution_arn():
    assert state_machine_arn(PREFIX + "run-1") == "arn:aws:states:us-east-1:123456789012:stateMachine:rds-cdc-setup"


def test_the_earliest_execution_goes_on_and_a_later_one_stops():
    running = [run("a", 0), run("b", 5)]
    ensure_first(PREFIX + "a", "orders-prod", running)
    with pytest.raises(ConcurrentExecution, match="Execution a is already preparing instance orders-prod"):
        ensure_first(PREFIX + "b", "orders-prod", running)


def test_executions_for_other_instances_do_not_interfere():
    ensure_first(PREFIX + "b", "orders-prod", [run("a", 0, "billing-prod"), run("b", 5)])


def test_a_tie_on_start_time_is_broken_by_name_so_exactly_one_goes_on():
    running = [run("a", 0), run("b", 0)]
    ensure_first(PREFIX + "a", "orders-prod", running)
    with pytest.raises(ConcurrentExecution):
        ensure_first(PREFIX + "b", "orders-prod", running)


def test_the_instance_is_read_from_console_input_or_an_rds_event():
    assert instance_of({"db_instance_identifier": "orders-prod"}) == "orders-prod"
    assert instance_of({"source": "aws.rds", "detail": {"SourceIdentifier": "orders-prod"}}) == "orders-prod"
    tag_change = {"source": "aws.tag", "resources": ["arn:aws:rds:us-east-1:123456789012:db:orders-prod"]}
    assert instance_of(tag_change) == "orders-prod"
    assert instance_of(["not", "a", "dict"]) is None


def test_a_cluster_is_locked_under_its_own_key_not_an_instance_of_the_same_name():
    assert instance_of({"db_cluster_identifier": "orders", "db_instance_identifier": None}) == "cluster:orders"
    tag_change = {"source": "aws.tag", "resources": ["arn:aws:rds:us-east-1:123456789012:cluster:orders"]}
    assert instance_of(tag_change) == "cluster:orders"
    running = [run("a", 0, "cluster:orders")]
    ensure_first(PREFIX + "b", "orders", running)  # the instance "orders" is another target
    with pytest.raises(ConcurrentExecution):
        ensure_first(PREFIX + "b", "cluster:orders", running)


def test_an_aurora_cluster_created_event_locks_the_cluster_as_a_tag_change_on_it_does():
    arn = "arn:aws:rds:us-east-1:123456789012:cluster:orders-aurora"
    created = {"source": "aws.rds", "detail": {"EventID": "RDS-EVENT-0170", "SourceIdentifier": "orders-aurora",
                                               "SourceType": "CLUSTER", "SourceArn": arn}}  # fmt: skip
    tagged = {"source": "aws.tag", "resources": [arn], "detail": {"service": "rds", "resource-type": "cluster"}}
    assert instance_of(created) == instance_of(tagged) == instance_of({"db_cluster_identifier": "orders-aurora"})
    assert (
        instance_of({"detail": {"SourceIdentifier": "orders-aurora", "SourceType": "CLUSTER"}})
        == "cluster:orders-aurora"
    )


def test_a_self_managed_server_is_locked_per_host_port_and_database():
    # Given two executions on the same host and database (port defaulted or explicit), they share a lock;
    # another database on the same server does not.
    first = instance_of({"host": "pg.internal", "database": "orders", "master_secret_arn": "arn:x"})
    assert first == "pg.internal:5432/orders"
    assert instance_of({"host": "pg.internal", "port": 5432, "database": "orders"}) == first
    assert instance_of({"host": "pg.internal", "port": 5433, "database": "orders"}) == "pg.internal:5433/orders"
    assert instance_of({"host": "pg.internal"}) == "pg.internal:5432/postgres"
    now = datetime(2026, 1, 1, tzinfo=UTC)
    running = [
        RunningExecution("arn:aws:states:r:a:execution:M:early", now, first),
        RunningExecution("arn:aws:states:r:a:execution:M:late", now + timedelta(seconds=1), first),
    ]
    with pytest.raises(ConcurrentExecution, match="pg.internal:5432/orders"):
        ensure_first("arn:aws:states:r:a:execution:M:late", first, running)
