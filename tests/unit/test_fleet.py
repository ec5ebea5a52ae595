"""Fleet mode's pure parts: who the selector picks, and how each child's end is reported."""

from __future__ import annotations

import json

import pytest

from lambdas.handlers.resolve_fleet import parse_fleet_input
from lambdas.logic.fleet import member_result, resolve_fleet, summarize
from lambdas.shared.errors import InvalidInput, TargetNotFound
from lambdas.shared.fleet_models import (
    MAX_FLEET_INSTANCES,
    MEMBER_MESSAGE_CHARS,
    FleetInput,
    MemberResult,
    SummarizeMemberInput,
)
from lambdas.shared.models import STATE_LIMIT_BYTES


class FakeRds:
    def __init__(self, instances: dict[str, dict[str, str]]):
        self.instances = instances

    def instances_with_tags(self):
        return list(self.instances.items())


RDS = FakeRds({"orders-eu": {"team": "orders"}, "Orders-US": {"team": "orders"}, "billing": {"team": "money"}})


def test_a_tag_selects_its_instances_each_with_the_shared_setup_input():
    plan = resolve_fleet(RDS, FleetInput(tag="team=orders", setup={"schemas": ["public"], "reboot": "never"}))
    assert [m.db_instance_identifier for m in plan.members] == ["Orders-US", "orders-eu"]
    assert plan.setup == {"schemas": ["public"], "reboot": "never"}  # once, merged into each member's input


def test_a_tag_key_alone_selects_any_value_and_a_list_keeps_its_order_and_the_api_spelling():
    assert len(resolve_fleet(RDS, FleetInput(tag="team")).members) == 3
    plan = resolve_fleet(RDS, FleetInput(db_instance_identifiers=["billing", "orders-us"]))
    assert [m.db_instance_identifier for m in plan.members] == ["billing", "Orders-US"]


def test_unknown_listed_instances_and_empty_or_oversized_tags_are_named_errors():
    with pytest.raises(TargetNotFound, match="ghost"):
        resolve_fleet(RDS, FleetInput(db_instance_identifiers=["orders-eu", "ghost"]))
    with pytest.raises(InvalidInput, match="team=nobody"):
        resolve_fleet(RDS, FleetInput(tag="team=nobody"))
    with pytest.raises(InvalidInput, match="max_instances"):
        resolve_fleet(RDS, FleetInput(tag="team", max_instances=2))


@pytest.mark.parametrize(
    ("fleet_input", "complaint"),
    [
        ({}, "exactly one"),
        ({"tag": "a=b", "db_instance_identifiers": ["x"]}, "exactly one"),
        ({"db_instance_identifiers": []}, "non-empty"),
        ({"db_instance_identifiers": ["a", "A"]}, "duplicates"),
        ({"db_instance_identifiers": ["bad;id"]}, "RDS identifiers"),
        ({"tag": "=x"}, "key=value"),
        ({"tag": "a", "setup": {"db_cluster_identifier": "c"}}, "must not name"),
        ({"tag": "a", "tags": "b"}, "tags"),
    ],
)
def test_bad_fleet_input_is_invalid_input(fleet_input, complaint):
    with pytest.raises(InvalidInput, match=complaint):
        parse_fleet_input(fleet_input)


def item(state: dict) -> SummarizeMemberInput:
    """A Map item as SummarizeMember parses it."""
    return SummarizeMemberInput.model_validate(state)


def test_a_failed_child_reports_its_own_named_error_as_aws_and_moto_spell_the_cause():
    aws_cause = {"ExecutionArn": "arn:x", "Status": "FAILED", "Error": "SlotConflict", "Cause": "slot exists"}
    moto_cause = {"executionArn": "arn:y", "status": "FAILED", "error": "SlotConflict", "cause": "slot exists"}
    for cause, arn in ((aws_cause, "arn:x"), (moto_cause, "arn:y")):
        result = member_result(
            item({"instance": "a", "error": {"Error": "States.TaskFailed", "Cause": json.dumps(cause)}})
        )
        assert (result.status, result.error, result.message, result.execution_arn) == (
            "Failed",
            "SlotConflict",
            "slot exists",
            arn,
        )
    # a failure to start at all keeps the integration's own error
    result = member_result(item({"instance": "a", "error": {"Error": "StepFunctions.AccessDenied", "Cause": "denied"}}))
    assert (result.error, result.message) == ("StepFunctions.AccessDenied", "denied")


def test_the_fleet_status_says_whether_none_some_or_all_failed():
    ready = member_result(item({"instance": "a", "result": {"output": {"status": "Ready"}, "execution_arn": "arn:a"}}))
    failed = member_result(item({"instance": "b", "error": {"Error": "States.TaskFailed", "Cause": "{}"}}))
    assert summarize([ready]).status == "Succeeded"
    assert summarize([ready, failed]).status == "PartiallyFailed"
    assert summarize([failed]).counts == {"Failed": 1} and summarize([failed]).status == "Failed"


def test_the_largest_fleet_with_the_largest_input_and_every_member_failing_fits_the_state_limit():
    """The fleet's biggest states: ResolveFleet's (input + plan) and the Map's results."""
    tables = [f"public.table_with_a_rather_long_name_{i:05}" for i in range(10_000)]
    tables = tables[: next(n for n in range(len(tables), 0, -1) if len(json.dumps(tables[:n])) <= 80 * 1024)]
    setup = {"schemas": ["public"], "tables": tables}
    ids = [f"orders-{i:03}-" + "x" * 50 for i in range(MAX_FLEET_INSTANCES)]
    fleet = FleetInput(db_instance_identifiers=ids, setup=setup, max_instances=MAX_FLEET_INSTANCES)
    plan = resolve_fleet(FakeRds({i: {} for i in ids}), fleet)
    resolved_state = {**fleet.model_dump(mode="json"), "fleet": plan.model_dump(mode="json")}
    assert len(json.dumps(resolved_state).encode()) <= STATE_LIMIT_BYTES

    cause = {"executionArn": "arn:aws:states:us-east-1:123456789012:execution:rds-cdc-setup:" + "e" * 80,
             "error": "ReplicaIdentityMissing", "cause": "x" * 5000, "input": json.dumps(setup)}  # fmt: skip
    results = [
        member_result(item({"instance": i, "error": {"Error": "States.TaskFailed", "Cause": json.dumps(cause)}}))
        for i in ids
    ]
    assert all(r.message is not None and len(r.message) == MEMBER_MESSAGE_CHARS for r in results)
    map_results = [r.model_dump(mode="json", exclude_none=True) for r in results]  # SummarizeMember's outputs
    assert len(json.dumps(map_results).encode()) <= STATE_LIMIT_BYTES
    summary = summarize([MemberResult.model_validate(r) for r in map_results])  # as SummarizeFleet parses them
    assert len(json.dumps(summary.model_dump(mode="json")).encode()) <= STATE_LIMIT_BYTES


def test_a_misspelt_setup_key_of_a_fleet_names_the_closest_setup_key(monkeypatch):
    from lambdas.handlers import resolve_fleet as step
    from tests.unit.test_step import FakeContext

    monkeypatch.setattr(step, "Rds", lambda: RDS)
    with pytest.raises(InvalidInput, match=r"setup\.reboto: unknown key; did you mean setup\.reboot\?"):
        step.handler({"tag": "team=orders", "setup": {"reboto": "never"}}, FakeContext())
