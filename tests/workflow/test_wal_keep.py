"""max_slot_wal_keep_size through the real ASL: the default from the allocated storage on RDS
PostgreSQL 13+, an override, the -1 opt-out, and what the plan says (tests/unit/test_wal_keep_guard.py
covers the rule)."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.workflow.conftest import make_stack

pytestmark = pytest.mark.workflow

GROUP = "orders-prod-streamkap-cdc"


def group_value(group: str = GROUP) -> str | None:
    parameters = boto3.client("rds").describe_db_parameters(DBParameterGroupName=group, Source="user")["Parameters"]
    return next((p["ParameterValue"] for p in parameters if p["ParameterName"] == "max_slot_wal_keep_size"), None)


def test_a_default_run_bounds_wal_from_the_allocated_storage(new_server):
    for stack in make_stack(new_server, allocated_storage=50):
        bounded = stack.server.major_version >= 13
        dry = stack.run(dry_run=True)
        assert dry.status == "SUCCEEDED", dry.cause
        note = [line for line in dry.output["plan"] if line.startswith("max_slot_wal_keep_size")]
        if bounded:
            assert note == [
                f"max_slot_wal_keep_size=5120 MB in parameter group {GROUP} (the default for 50 GiB of allocated "
                "storage: 10 %, at least 2 GiB, at most 100 GiB; max_slot_wal_keep_size_mb overrides it, -1 keeps "
                "WAL unbounded): a connector that stays away longer than 5 GiB of WAL loses its slot and needs a "
                "new snapshot; the disk stays safe"
            ]
        else:
            assert note[0].startswith("max_slot_wal_keep_size does not exist before PostgreSQL 13")
            assert "alarm_slot_lag_gib" in note[0]

        execution = stack.run()

        assert execution.status == "SUCCEEDED", execution.cause
        line = f"set max_slot_wal_keep_size=5120 in parameter group {GROUP} (MB, the default for 50 GiB of allocated"
        line += " storage)"
        assert (line in execution.output["changes"]) == bounded
        assert group_value() == ("5120" if bounded else None)
        if bounded:
            assert stack.sql("SHOW max_slot_wal_keep_size") == [["5GB"]]
            assert stack.instance.reboots == 1  # for rds.logical_replication only


def test_an_override_wins_and_minus_one_opts_out_without_a_reboot(new_server):
    for stack in make_stack(new_server):
        if stack.server.major_version < 13:  # no such parameter: a value is refused, -1 changes nothing
            refused = stack.run(max_slot_wal_keep_size_mb=4096)
            assert refused.status == "FAILED" and refused.error == "InvalidInput"
            assert stack.run(max_slot_wal_keep_size_mb=-1).status == "SUCCEEDED"
            assert group_value() is None
            return
        first = stack.run(max_slot_wal_keep_size_mb=4096)
        assert first.status == "SUCCEEDED", first.cause
        assert group_value() == "4096" and stack.sql("SHOW max_slot_wal_keep_size") == [["4GB"]]
        assert (
            f"set max_slot_wal_keep_size=4096 in parameter group {GROUP} (MB, from max_slot_wal_keep_size_mb)"
            in (first.output["changes"])
        )
        assert lag_alarm()["Threshold"] == 2 * 1024**3  # half the 4 GiB bound

        # a later default run keeps the value the group holds; the check schedule takes this run's input
        again = stack.run()
        assert again.status == "SUCCEEDED", again.cause
        assert group_value() == "4096"
        assert again.output["changes"] == [
            "updated check schedule rds-cdc-check/db.orders-prod.orders: rate(1 hour) (input changed)"
        ]

        # the opt-out: unbounded again, a dynamic change
        opt_out = stack.run(max_slot_wal_keep_size_mb=-1)
        assert opt_out.status == "SUCCEEDED", opt_out.cause
        assert opt_out.output["changes"] == [
            f"set max_slot_wal_keep_size=-1 in parameter group {GROUP} (MB, from max_slot_wal_keep_size_mb)",
            # the 4 GiB bound had the slot-lag alarm at 2 GiB; unbounded, alarm_slot_lag_gib stands again
            "updated alarm rds-cdc-setup-orders-prod-OldestReplicationSlotLag (OldestReplicationSlotLag > 5 GiB)",
            "updated check schedule rds-cdc-check/db.orders-prod.orders: rate(1 hour) (input changed)",
        ]
        assert group_value() == "-1" and stack.sql("SHOW max_slot_wal_keep_size") == [["-1"]]
        assert stack.instance.reboots == 1  # the first run's, for rds.logical_replication


def lag_alarm() -> dict:
    [alarm] = boto3.client("cloudwatch").describe_alarms(
        AlarmNames=["rds-cdc-setup-orders-prod-OldestReplicationSlotLag"]
    )["MetricAlarms"]
    return alarm


@pytest.mark.parametrize(("gib", "lag_gib"), [(20, 1), (1000, 5)])
def test_the_slot_lag_alarm_fires_before_the_bound_invalidates_the_slot(new_server, gib, lag_gib):
    # 20 GiB: a 2 GiB bound, below the 5 GiB default threshold: the alarm at half the bound.
    # 1000 GiB: a 100 GiB bound, the 5 GiB default stands.
    for stack in make_stack(new_server, allocated_storage=gib):
        bounded = stack.server.major_version >= 13
        note = (
            "slot-lag alarm at 1 GiB, half the 2 GiB WAL bound (max_slot_wal_keep_size): alarm_slot_lag_gib 5 would "
            "fire only after the slot is lost"
        )
        lowered = bounded and lag_gib != 5

        dry = stack.run(dry_run=True)
        assert dry.status == "SUCCEEDED", dry.cause
        assert (note in dry.output["plan"]) == lowered
        assert not any(line.startswith("slot-lag alarm") for line in dry.output["plan"] if line != note)

        execution = stack.run()

        assert execution.status == "SUCCEEDED", execution.cause
        bound = next(
            json.loads(e["stateExitedEventDetails"]["output"])["parameter_group"]["max_slot_wal_keep_size_mb"]
            for e in execution.events
            if e.get("stateExitedEventDetails", {}).get("name") == "EnsureParameterGroup"
        )
        assert bound == (min(gib * 1024 // 10, 102400) if bounded else None)
        assert lag_alarm()["Threshold"] == (lag_gib if bounded else 5) * 1024**3
        assert (note in execution.output["changes"]) == lowered
        assert f"(OldestReplicationSlotLag > {lag_gib if bounded else 5} GiB)" in " ".join(execution.output["changes"])


def test_an_explicit_threshold_above_the_bound_is_clamped_and_one_below_it_stands(new_server):
    for stack in make_stack(new_server, allocated_storage=20):
        if stack.server.major_version < 13:
            return  # no bound: tests/workflow/test_trigger.py covers the thresholds as given
        clamped = stack.run(alarm_slot_lag_gib=3)
        assert clamped.status == "SUCCEEDED", clamped.cause
        assert lag_alarm()["Threshold"] == 1024**3
        assert (
            "slot-lag alarm at 1 GiB, half the 2 GiB WAL bound (max_slot_wal_keep_size): alarm_slot_lag_gib 3, as "
            "given, would fire only after the slot is lost; a value below 2 GiB is used as given"
        ) in clamped.output["changes"]

        below = stack.run(alarm_slot_lag_gib=1.5)
        assert below.status == "SUCCEEDED", below.cause
        assert lag_alarm()["Threshold"] == 1.5 * 1024**3
        assert not any(line.startswith("slot-lag alarm") for line in below.output["changes"])

        # the DBA raises the bound in the group: the next run's alarm follows it, the input's 3 GiB stands
        boto3.client("rds").modify_db_parameter_group(
            DBParameterGroupName=GROUP,
            Parameters=[
                {"ParameterName": "max_slot_wal_keep_size", "ParameterValue": "8192", "ApplyMethod": "immediate"}
            ],
        )
        raised = stack.run(alarm_slot_lag_gib=3)
        assert raised.status == "SUCCEEDED", raised.cause
        assert lag_alarm()["Threshold"] == 3 * 1024**3
