"""max_slot_wal_keep_size in EnsureParameterGroup's plan: the default from the allocated storage
(RDS PostgreSQL 13+), the input's value or -1, a group's own value, and what the plan says."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lambdas.handlers.validate_input import parse_input
from lambdas.logic.opt_in import settings_from_tags
from lambdas.logic.parameter_group import default_wal_keep_mb, ensure_parameter_group, plan_parameter_group, wal_keep
from lambdas.shared.errors import InvalidInput
from lambdas.shared.settings import WAL_KEEP_DEFAULT_MAX_MB, WAL_KEEP_DEFAULT_MIN_MB, WAL_KEEP_DEFAULT_PERCENT
from tests.unit.test_steps import FakeRds, instance

REQUIRED = {"rds.logical_replication": "1", "wal_sender_timeout": "0"}
MINE = "orders-prod-streamkap-cdc"
GUARD = "max_slot_wal_keep_size"


def rds_instance(group: str = "default.postgres15", version: str = "15.4", gib: int | None = 50, **more):
    return replace(instance(group), engine_version=version, allocated_storage_gib=gib, **more)


def notes(rds: FakeRds, info, requested: int | None = None, **kwargs) -> list[str]:
    lines = plan_parameter_group(rds, info, requested, **kwargs).describe("instance orders-prod", "postgres15")
    return [line for line in lines if line.startswith(GUARD)]


# ---- the rule --------------------------------------------------------------------------------


def test_the_rule_is_the_one_the_settings_name():
    # a DBA reads these in the plan: 10 %, at least 2 GiB, at most 100 GiB
    assert (WAL_KEEP_DEFAULT_PERCENT, WAL_KEEP_DEFAULT_MIN_MB, WAL_KEEP_DEFAULT_MAX_MB) == (10, 2048, 102400)


@pytest.mark.parametrize(
    ("gib", "mb"),
    [
        (5, 2048),  # the floor (magnetic storage's smallest disk)
        (19, 2048),  # 10 % would be 1945 MB: the floor still binds
        (20, 2048),  # RDS's smallest gp2/gp3 disk: exactly 10 % and the floor
        (21, 2150),  # 10 % of 21504 MB, rounded down: the share binds from here
        (100, 10240),
        (999, 102297),
        (1000, 102400),  # exactly 10 % and the cap
        (1001, 102400),  # 10 % would be 102502 MB: the cap binds
        (65536, 102400),
    ],
)
def test_the_default_is_a_tenth_of_the_allocated_storage_between_floor_and_cap(gib, mb):
    assert default_wal_keep_mb(gib) == mb


def test_postgresql_13_gets_the_default_and_12_has_no_such_parameter():
    assert wal_keep(rds_instance(version="13.1"), None).parameters == {GUARD: ("5120", "immediate")}
    assert wal_keep(rds_instance(version="12.19"), None).parameters == {}
    assert wal_keep(rds_instance(version="12.19"), -1).parameters == {}  # unbounded is all 12 knows


def test_a_bound_asked_for_on_postgresql_12_is_invalid_input():
    rds = FakeRds(groups={"team-pg12": {}})
    with pytest.raises(InvalidInput, match="needs PostgreSQL 13"):
        plan_parameter_group(rds, rds_instance("team-pg12", "12.19"), 2048)


def test_the_input_wins_and_minus_one_means_unbounded():
    assert wal_keep(rds_instance(), 8192).parameters == {GUARD: ("8192", "immediate")}
    assert wal_keep(rds_instance(), -1).parameters == {GUARD: ("-1", "immediate")}
    assert wal_keep(rds_instance(gib=None), 4096).parameters == {GUARD: ("4096", "immediate")}


def test_no_default_without_allocated_storage_nor_on_aurora():
    assert wal_keep(rds_instance(gib=None), None).parameters == {}
    aurora = rds_instance(cluster_id="orders-aurora", gib=None)
    assert wal_keep(aurora, None).parameters == {}
    assert wal_keep(replace(aurora, allocated_storage_gib=1), None).parameters == {}  # Aurora says 1: no allocation
    assert wal_keep(aurora, 4096).parameters == {GUARD: ("4096", "immediate")}  # asked for: set


# ---- the input -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, -1, 1024, 2**31 - 1])
def test_valid_inputs(value):
    assert parse_input({"db_instance_identifier": "orders-prod", "max_slot_wal_keep_size_mb": value})


@pytest.mark.parametrize("value", [-2, 0, 1, 1023, 2**31, "lots"])
def test_nonsense_is_invalid_input(value):
    with pytest.raises(InvalidInput, match="max_slot_wal_keep_size_mb"):
        parse_input({"db_instance_identifier": "orders-prod", "max_slot_wal_keep_size_mb": value})


def test_self_managed_refuses_even_the_opt_out():
    with pytest.raises(InvalidInput, match="ALTER SYSTEM"):
        parse_input({"host": "pg.internal", "master_secret_arn": "a", "max_slot_wal_keep_size_mb": -1})


def test_a_tag_can_opt_out():
    settings = settings_from_tags(
        {"streamkap:cdc": "enabled", "streamkap:cdc/max-slot-wal-keep-size-mb": "-1"}, "streamkap:cdc"
    )
    assert parse_input({"db_instance_identifier": "orders-prod", **settings}).max_slot_wal_keep_size_mb == -1


# ---- the plan and its changes ----------------------------------------------------------------


def test_a_default_run_creates_the_group_with_the_derived_bound_without_an_extra_reboot():
    rds = FakeRds()
    info = rds_instance(gib=50, max_allocated_storage_gib=200)

    changes, reboot = ensure_parameter_group(rds, info, "postgres15")

    assert rds.calls[1] == (
        "set",
        MINE,
        {
            "rds.logical_replication": ("1", "pending-reboot"),
            "wal_sender_timeout": ("0", "immediate"),
            GUARD: ("5120", "immediate"),
        },
    )
    assert f"set {GUARD}=5120 in parameter group {MINE} (MB, the default for 50 GiB of allocated storage)" in changes
    assert notes(FakeRds(), info) == [
        f"{GUARD}=5120 MB in parameter group {MINE} (the default for 50 GiB of allocated storage: 10 %, at least "
        "2 GiB, at most 100 GiB; storage autoscaling may grow it to 200 GiB, the bound stays; "
        "max_slot_wal_keep_size_mb overrides it, -1 keeps WAL unbounded): a connector that stays away longer "
        "than 5 GiB of WAL loses its slot and needs a new snapshot; the disk stays safe"
    ]
    # a second run finds it set
    rds.described = info
    assert plan_parameter_group(rds, replace(info, parameter_group=MINE)).parameters == {}
    assert reboot  # for rds.logical_replication; the bound itself is dynamic


def test_the_input_replaces_a_value_the_group_holds():
    rds = FakeRds(groups={"team-pg15": {**REQUIRED, GUARD: "4096"}}, owned={"team-pg15"})  # the workflow's own

    changes, reboot = ensure_parameter_group(rds, rds_instance("team-pg15"), "postgres15", 8192)

    assert changes == [f"set {GUARD}=8192 in parameter group team-pg15 (MB, from max_slot_wal_keep_size_mb)"]
    assert rds.calls == [("set", "team-pg15", {GUARD: ("8192", "immediate")})]
    assert not reboot
    assert plan_parameter_group(rds, rds_instance("team-pg15"), 8192).parameters == {}


def test_a_value_the_dba_set_is_kept_in_the_copy_unless_the_input_sets_one():
    # someone else's group without logical replication, with their own bound
    groups = {"team-pg15": {"work_mem": "65536", GUARD: "4096"}}
    rds = FakeRds(groups={k: dict(v) for k, v in groups.items()})

    changes, _ = ensure_parameter_group(rds, rds_instance("team-pg15"), "postgres15")

    assert rds.groups[MINE][GUARD] == "4096" and not any(GUARD in line for line in changes)
    assert notes(FakeRds(groups=groups), rds_instance("team-pg15")) == [
        f"{GUARD}=4096 MB already in parameter group team-pg15 (its copy {MINE} keeps it), kept: the group's own "
        "value wins over the default "
        "of 5120 MB: a connector that stays away longer than 4 GiB of WAL loses its slot and needs a new snapshot; "
        "the disk stays safe"
    ]
    rds = FakeRds(groups={k: dict(v) for k, v in groups.items()})
    ensure_parameter_group(rds, rds_instance("team-pg15"), "postgres15", 8192)
    assert rds.groups[MINE][GUARD] == "8192" and rds.groups["team-pg15"][GUARD] == "4096"


def test_the_workflows_own_group_keeps_its_value_on_a_later_run():
    # e.g. set by a first run on a smaller disk, or by the DBA since: the default does not overwrite it
    rds = FakeRds(groups={"team-pg15": {**REQUIRED, GUARD: "3000"}}, owned={"team-pg15"})
    assert plan_parameter_group(rds, rds_instance("team-pg15", gib=500)).parameters == {}


def test_the_workflows_own_group_gets_the_default_in_place_without_a_reboot():
    rds = FakeRds(groups={"team-pg15": dict(REQUIRED)}, owned={"team-pg15"})
    changes, reboot = ensure_parameter_group(rds, rds_instance("team-pg15", gib=20), "postgres15")
    assert rds.calls == [("set", "team-pg15", {GUARD: ("2048", "immediate")})] and not reboot
    assert changes == [
        f"set {GUARD}=2048 in parameter group team-pg15 (MB, the default for 20 GiB of allocated storage)"
    ]


def test_the_default_alone_never_copies_someone_elses_group():
    # a DBA's group already fit for CDC: the workflow leaves it, and with it the instance, alone
    rds = FakeRds(groups={"team-pg15": dict(REQUIRED)})
    changes, reboot = ensure_parameter_group(rds, rds_instance("team-pg15"), "postgres15")
    assert (changes, reboot, rds.calls) == ([], False, [])
    assert notes(rds, rds_instance("team-pg15")) == [
        f"{GUARD} unset in parameter group team-pg15, which needs no other change and is not the workflow's "
        "alone: the default of 5120 MB is not a reason to copy it. WAL for the slot is unbounded: a connector that "
        "never comes back holds WAL until the disk fills; the slot-lag alarm is the only guard; "
        "max_slot_wal_keep_size_mb sets a bound (in a copy of the group)"
    ]
    # the same group shared with another instance: no refusal either, as nothing else is missing
    shared = FakeRds(groups={"team-pg15": dict(REQUIRED)}, owned={"team-pg15"}, holders={"team-pg15": ["instance b"]})
    assert plan_parameter_group(shared, rds_instance("team-pg15")).refusals == ()
    # asked for explicitly, the bound is worth the copy
    ensure_parameter_group(rds, rds_instance("team-pg15"), "postgres15", 4096)
    assert [c[0] for c in rds.calls] == ["copy", "set", "attach"] and rds.groups[MINE][GUARD] == "4096"


def test_the_opt_out_keeps_wal_unbounded():
    # a new group: -1 is the engine default, nothing to set
    rds = FakeRds()
    ensure_parameter_group(rds, rds_instance(), "postgres15", -1)
    assert GUARD not in rds.calls[1][2]
    assert notes(FakeRds(), rds_instance(), -1) == [
        f"{GUARD} unset in parameter group {MINE}, as max_slot_wal_keep_size_mb -1 asks: WAL for the slot is "
        "unbounded: a connector that never comes back holds WAL until the disk fills; the slot-lag alarm is the "
        "only guard"
    ]
    # a group with a bound: -1 replaces it
    rds = FakeRds(groups={"team-pg15": {**REQUIRED, GUARD: "4096"}}, owned={"team-pg15"})
    ensure_parameter_group(rds, rds_instance("team-pg15"), "postgres15", -1)
    assert rds.calls == [("set", "team-pg15", {GUARD: ("-1", "immediate")})]


def test_below_13_the_plan_says_wal_is_unbounded_and_points_at_the_alarm():
    rds = FakeRds()
    changes, _ = ensure_parameter_group(rds, rds_instance(version="12.19"), "postgres12")
    assert GUARD not in rds.calls[1][2] and not any(GUARD in line for line in changes)
    assert notes(FakeRds(), rds_instance(version="12.19")) == [
        f"{GUARD} does not exist before PostgreSQL 13 (this is 12): WAL for the slot is unbounded: a connector "
        "that never comes back holds WAL until the disk fills; the slot-lag alarm is the only guard "
        "(OldestReplicationSlotLag, alarm_slot_lag_gib)"
    ]


def test_aurora_gets_no_default_and_the_plan_says_why():
    aurora = rds_instance("default.aurora-postgresql15", cluster_id="orders-aurora", gib=None)
    rds = FakeRds()
    ensure_parameter_group(rds, aurora, "aurora-postgresql15")
    assert GUARD not in rds.calls[1][2]
    assert notes(FakeRds(), aurora) == [
        f"{GUARD}: no default on Aurora, whose storage is not allocated (the cluster volume grows as needed): WAL "
        "for the slot is unbounded: a connector that never comes back holds WAL until the disk fills; the slot-lag "
        "alarm is the only guard; max_slot_wal_keep_size_mb sets a bound"
    ]


def test_a_refused_plan_says_nothing_about_the_bound():
    # the workflow's name taken by someone else's group: the run stops, no group will hold anything
    rds = FakeRds(groups={MINE: {}})
    plan = plan_parameter_group(rds, rds_instance())
    assert plan.refusals and plan.wal_keep_note == ""
    assert notes(rds, rds_instance()) == []
