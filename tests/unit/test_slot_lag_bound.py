"""The slot-lag alarm below the WAL bound: EnsureParameterGroup's bound (the plan's and the group's
actual max_slot_wal_keep_size) and CreateAlarms' threshold, changes and plan line.
tests/workflow/test_wal_keep.py runs it through the real ASL."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from lambdas.logic.monitoring import GIB, alarm_plan, ensure_alarms, slot_lag_threshold
from lambdas.logic.parameter_group import bound_mb, ensure_parameter_group, plan_parameter_group, wal_keep_bound
from lambdas.shared.models import ParameterGroupResult, SetupInput, SetupInputState
from tests.unit.test_monitoring import TOPIC, FakeAlarms
from tests.unit.test_steps import FakeRds
from tests.unit.test_wal_keep_guard import GUARD, MINE, REQUIRED, rds_instance

LAG = "rds-cdc-setup-orders-prod-OldestReplicationSlotLag"


def setup(**kwargs: Any) -> SetupInput:
    return SetupInput(db_instance_identifier="orders-prod", **kwargs)


def through_the_state(setup: SetupInput) -> SetupInput:
    """As a step after ValidateInput sees it: every field in the state, so every field "set"."""
    return SetupInputState.model_validate({"input": setup.model_dump(mode="json")}).input


# ---- the threshold ---------------------------------------------------------------------------


def test_a_default_threshold_above_the_bound_becomes_half_the_bound():
    assert slot_lag_threshold(setup(), 2048) == (
        1,
        "slot-lag alarm at 1 GiB, half the 2 GiB WAL bound (max_slot_wal_keep_size): alarm_slot_lag_gib 5 would "
        "fire only after the slot is lost",
    )


def test_a_threshold_equal_to_the_bound_is_lowered_and_one_just_below_is_kept():
    # equal: GreaterThanThreshold at the bound fires once the slot is already invalidated
    assert slot_lag_threshold(setup(), 5120) == (
        2.5,
        "slot-lag alarm at 2.5 GiB, half the 5 GiB WAL bound (max_slot_wal_keep_size): alarm_slot_lag_gib 5 would "
        "fire only after the slot is lost",
    )
    assert slot_lag_threshold(setup(), 5121) == (5, None)  # 1 MB more room: the input stands
    assert slot_lag_threshold(setup(alarm_slot_lag_gib=1.999), 2048) == (1.999, None)


def test_without_a_bound_the_input_stands_however_large():
    assert slot_lag_threshold(setup(), None) == (5, None)
    assert slot_lag_threshold(setup(alarm_slot_lag_gib=500), None) == (500, None)
    assert alarm_plan(setup(alarm_slot_lag_gib=500), None) == []


def test_an_explicit_threshold_above_the_bound_is_clamped_and_the_wording_says_it_was_given():
    expected = (
        1,
        "slot-lag alarm at 1 GiB, half the 2 GiB WAL bound (max_slot_wal_keep_size): alarm_slot_lag_gib 8, as "
        "given, would fire only after the slot is lost; a value below 2 GiB is used as given",
    )
    assert slot_lag_threshold(setup(alarm_slot_lag_gib=8), 2048) == expected
    # the same past ValidateInput, where the state holds every field
    assert slot_lag_threshold(through_the_state(setup(alarm_slot_lag_gib=8)), 2048) == expected
    # and the default stays worded as the default there, though model_fields_set names it
    state_default = through_the_state(setup())
    assert "alarm_slot_lag_gib" in state_default.model_fields_set
    assert slot_lag_threshold(state_default, 2048) == slot_lag_threshold(setup(), 2048)
    # an explicit 5 is the default's value: worded as the default
    assert slot_lag_threshold(setup(alarm_slot_lag_gib=5), 2048) == slot_lag_threshold(setup(), 2048)


def test_an_odd_bound_gives_a_whole_number_of_mb():
    gib, note = slot_lag_threshold(setup(alarm_slot_lag_gib=2), 1025)
    assert gib * 1024 == 512 and gib * GIB == 512 * 1024**2
    assert note is not None and note.startswith("slot-lag alarm at 0.5 GiB, half the 1.00098 GiB WAL bound")


def test_the_plan_line_is_the_note():
    assert alarm_plan(setup(), 2048) == [slot_lag_threshold(setup(), 2048)[1]]
    assert alarm_plan(setup(), 102400) == []


# ---- CreateAlarms ----------------------------------------------------------------------------


def test_create_alarms_uses_the_lowered_threshold_and_says_so_once():
    cloudwatch = FakeAlarms()

    result = ensure_alarms(cloudwatch, setup(), "orders-prod", TOPIC, 2048)

    thresholds = {a["MetricName"]: a["Threshold"] / GIB for a in cloudwatch.alarms.values()}
    # TransactionLogsDiskUsage is all WAL on disk, not the slot's: it keeps its input (see alarm_specs)
    assert thresholds == {"OldestReplicationSlotLag": 1, "TransactionLogsDiskUsage": 10, "FreeStorageSpace": 5}
    assert result.changes[:2] == [
        f"created alarm {LAG} (OldestReplicationSlotLag > 1 GiB)",
        slot_lag_threshold(setup(), 2048)[1],
    ]
    assert len(result.changes) == 4
    # a re-run changes nothing and says nothing
    assert ensure_alarms(cloudwatch, setup(), "orders-prod", TOPIC, 2048).changes == []


def test_an_alarm_made_before_the_bound_is_lowered_when_the_bound_appears():
    cloudwatch = FakeAlarms()
    ensure_alarms(cloudwatch, setup(), "orders-prod", TOPIC, None)
    assert cloudwatch.alarms[LAG]["Threshold"] == 5 * GIB

    result = ensure_alarms(cloudwatch, setup(), "orders-prod", TOPIC, 2048)

    assert result.changes == [
        f"updated alarm {LAG} (OldestReplicationSlotLag > 1 GiB)",
        slot_lag_threshold(setup(), 2048)[1],
    ]
    # a large bound leaves the input's threshold: 5 GiB again, no note
    again = ensure_alarms(cloudwatch, setup(), "orders-prod", TOPIC, 102400)
    assert again.changes == [f"updated alarm {LAG} (OldestReplicationSlotLag > 5 GiB)"]


def test_a_state_without_the_bound_parses_and_means_none():
    # states written before the field existed, or a step result built without it
    result = ParameterGroupResult(parameter_group="g", changes=[], reboot_required=False)
    assert result.max_slot_wal_keep_size_mb is None


# ---- the bound EnsureParameterGroup reports --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "mb"), [(None, None), ("-1", None), ("0", None), ("2048", 2048), ("{DBInstanceClassMemory/1024}", None)]
)
def test_a_group_value_as_a_bound(value, mb):
    assert bound_mb(value) == mb


# (groups, owned, instance, requested, bound the group holds after the step)
SCENARIOS = {
    "default on 20 GiB": ({}, set(), rds_instance(gib=20), None, 2048),
    "default on 1000 GiB": ({}, set(), rds_instance(gib=1000), None, 102400),
    "input wins": ({}, set(), rds_instance(gib=20), 8192, 8192),
    "opt-out": ({}, set(), rds_instance(gib=20), -1, None),
    "the DBA's value kept in the copy": (
        {"team-pg15": {GUARD: "3000"}},
        set(),
        rds_instance("team-pg15", gib=20),
        None,
        3000,
    ),
    "the default not worth a copy": ({"team-pg15": dict(REQUIRED)}, set(), rds_instance("team-pg15"), None, None),
    "own group set in place": ({"team-pg15": dict(REQUIRED)}, {"team-pg15"}, rds_instance("team-pg15"), None, 5120),
    "PostgreSQL 12": ({}, set(), rds_instance(version="12.19"), None, None),
    "Aurora without a value": (
        {},
        set(),
        rds_instance("default.aurora-postgresql15", cluster_id="orders-aurora", gib=None),
        None,
        None,
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_plan_and_the_group_after_the_step_agree_on_the_bound(name):
    groups, owned, info, requested, expected = SCENARIOS[name]
    rds = FakeRds(groups={k: dict(v) for k, v in groups.items()}, owned=owned)
    plan = plan_parameter_group(rds, info, requested)

    ensure_parameter_group(rds, info, "postgres15", requested)

    attached = replace(info, parameter_group=plan.group)
    assert (plan.wal_keep_mb, wal_keep_bound(rds, attached)) == (expected, expected)


def test_a_bound_set_in_a_group_the_plan_does_not_use_is_not_reported():
    # PostgreSQL 12 has no such parameter: whatever a group says, no bound
    rds = FakeRds(groups={"team-pg12": {GUARD: "2048"}})
    assert wal_keep_bound(rds, rds_instance("team-pg12", version="12.19")) is None
    assert wal_keep_bound(rds, rds_instance("team-pg12", version="13.1")) == 2048


def test_a_refused_plan_reports_no_bound():
    rds = FakeRds(groups={"team-pg15": {}, MINE: {}})  # MINE exists without the owner tag: refused
    plan = plan_parameter_group(rds, rds_instance("team-pg15", gib=20))
    assert plan.refusals and plan.wal_keep_mb is None
