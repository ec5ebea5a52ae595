"""failover_slot (PostgreSQL 17+) in the parameter-group plan and Preflight's refusals: which targets
may have it, the parameters it adds, and the lines the plan says. Over the fake RDS port, no I/O."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lambdas.dal import sql
from lambdas.logic.parameter_group import ensure_parameter_group, plan_parameter_group
from lambdas.logic.preflight import check_failover_slot, check_slot_failover, slot_line
from lambdas.shared.errors import InvalidInput, SlotConflict
from lambdas.shared.models import SetupInput, Target
from tests.unit.test_steps import FakeRds, instance, writer

MINE = "orders-prod-streamkap-cdc"
SET = {"rds.logical_replication": "1", "wal_sender_timeout": "0"}
STANDBY_SIDE = {"sync_replication_slots": ("1", "immediate"), "hot_standby_feedback": ("1", "immediate")}


def pg17(group: str = "default.postgres17"):
    return replace(instance(group), engine_version="17.2")


def test_on_17_the_workflows_group_gets_the_standby_side_parameters_dynamic_and_the_plan_says_why():
    rds = FakeRds()
    changes, _ = ensure_parameter_group(rds, pg17(), "postgres17", failover_slot=True)
    assert rds.calls[1] == (
        "set",
        MINE,
        {"rds.logical_replication": ("1", "pending-reboot"), "wal_sender_timeout": ("0", "immediate"), **STANDBY_SIDE},
    )
    assert "set sync_replication_slots=1 in parameter group orders-prod-streamkap-cdc" in changes
    assert "set hot_standby_feedback=1 in parameter group orders-prod-streamkap-cdc" in changes
    lines = plan_parameter_group(rds, pg17(), failover_slot=True).describe("instance orders-prod", "postgres17")
    note = next(line for line in lines if line.startswith("failover slot: "))
    assert "act on a read replica that uses it" in note and "hold back VACUUM on the primary" in note


def test_a_group_holding_them_already_needs_no_change_and_without_the_option_none_is_added():
    ready = {MINE: {**SET, "sync_replication_slots": "1", "hot_standby_feedback": "1"}}
    rds = FakeRds(ready, owned={MINE}, holders={MINE: ["instance orders-prod"]})
    assert ensure_parameter_group(rds, pg17(MINE), "postgres17", failover_slot=True) == ([], False)
    plain = FakeRds({MINE: dict(SET)}, owned={MINE}, holders={MINE: ["instance orders-prod"]})
    assert ensure_parameter_group(plain, pg17(MINE), "postgres17") == ([], False)
    lines = plan_parameter_group(plain, pg17(MINE)).describe("instance orders-prod", "postgres17")
    assert not any("sync_replication_slots" in line or line.startswith("failover slot") for line in lines)


def test_only_the_missing_one_is_set_in_the_workflows_own_group():
    rds = FakeRds({MINE: {**SET, "hot_standby_feedback": "1"}}, owned={MINE}, holders={MINE: ["instance orders-prod"]})
    ensure_parameter_group(rds, pg17(MINE), "postgres17", failover_slot=True)
    assert rds.calls == [("set", MINE, {"sync_replication_slots": ("1", "immediate")})]


def test_below_17_the_option_is_refused_before_any_call_naming_the_version():
    rds = FakeRds()
    with pytest.raises(InvalidInput, match=r"failover_slot needs PostgreSQL 17\+.*runs 15: leave failover_slot false"):
        plan_parameter_group(rds, instance(), failover_slot=True)
    assert rds.calls == []


def test_on_aurora_the_option_is_refused_whatever_the_version():
    aurora17 = replace(writer(), engine_version="17.4")
    with pytest.raises(InvalidInput, match="not Aurora.*Leave failover_slot false"):
        plan_parameter_group(FakeRds(), aurora17, failover_slot=True)


def target(*, cluster_id: str | None = None, engine_version: str = "17.2") -> Target:
    return Target(
        instance_id="orders-prod", cluster_id=cluster_id, engine="postgres", engine_version=engine_version,
        major_version=int(engine_version.split(".")[0]), status="available", parameter_group="g",
        parameter_group_family="postgres17", parameter_apply_status="in-sync", host="h", port=5432,
        database="orders", master_secret_arn="arn:m",
    )  # fmt: skip


def server(major: int):
    return sql.ServerInfo(major * 10000 + 2, "logical", "master", False, True, True, 10, 10, 0)


def test_preflight_refuses_by_the_servers_own_major_and_on_aurora_and_lets_17_through():
    on = SetupInput(db_instance_identifier="orders-prod", failover_slot=True)
    with pytest.raises(InvalidInput, match="runs 16"):
        check_failover_slot(on, target(), server(16))  # the server's major decides (self-managed: no engine version)
    with pytest.raises(InvalidInput, match="not Aurora"):
        check_failover_slot(on, target(cluster_id="orders-aurora"), server(17))
    check_failover_slot(on, target(), server(17))
    check_failover_slot(SetupInput(db_instance_identifier="orders-prod"), target(), server(15))  # off: nothing


def test_an_existing_slot_without_failover_is_altered_unless_streamed_and_the_new_slot_line_says_failover():
    on = SetupInput(db_instance_identifier="orders-prod", failover_slot=True, slot_name="s")
    without = sql.SlotInfo("pgoutput", "logical", "orders", False, "reserved", failover=False)
    assert check_slot_failover(without, on, None)
    assert not check_slot_failover(replace(without, failover=True), on, None)
    assert not check_slot_failover(without, SetupInput(db_instance_identifier="orders-prod"), None)
    with pytest.raises(SlotConflict, match="pid 4242 streams it.*Pause the connector"):
        check_slot_failover(without, on, 4242)
    assert (
        slot_line(on)
        == "create replication slot s (pgoutput, failover: synced to standbys running sync_replication_slots)"
    )
    assert (
        slot_line(SetupInput(db_instance_identifier="orders-prod", slot_name="s"))
        == "create replication slot s (pgoutput)"
    )


@pytest.mark.parametrize(
    ("found", "self_managed", "expected"),
    [
        # RDS, a replica streaming, the setting unset: named, with what to set it to and the risk
        (
            sql.StandbySlots(("rds_us_east_1_db_abc",), "", True),
            False,
            [
                "synchronized_standby_slots is not set, and the workflow leaves it to you: set it in the parameter "
                "group to the physical slot of the standby meant to take over (this server has: rds_us_east_1_db_abc)",
            ],
        ),
        # set: what it guarantees, and what stalls the connector; no postgres database: the replica's dbname
        (
            sql.StandbySlots(("a",), "a", False),
            False,
            [
                "synchronized_standby_slots = 'a': the connector receives a change only once those standbys have it",
                "the read replica's rds.logical_slot_sync_dbname defaults to postgres, which does not exist",
            ],
        ),
        # self-managed: postgresql.conf, and what the standby needs is the operator's
        (
            sql.StandbySlots((), "", True),
            True,
            [
                "synchronized_standby_slots is not set, and the workflow leaves it to you: set it in postgresql.conf "
                "to the physical slot of the standby meant to take over (this server has no physical slot",
                "the standby needs sync_replication_slots = on, hot_standby_feedback = on, primary_slot_name",
            ],
        ),
    ],
)
def test_the_standby_plan_says_what_the_workflow_leaves_to_the_operator(monkeypatch, found, self_managed, expected):
    from lambdas.logic.preflight import standby_plan

    monkeypatch.setattr(sql, "standby_slots", lambda db: found)
    lines = standby_plan(None, target().model_copy(update={"self_managed": self_managed}))  # type: ignore[arg-type]
    assert len(lines) == len(expected)
    assert all(line.startswith(start) for line, start in zip(lines, expected, strict=True))
    assert "stalls the connector" in lines[0]
