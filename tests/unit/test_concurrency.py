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
