"""max_slot_wal_keep_size through the real ASL: the default from the allocated storage on RDS
PostgreSQL 13+, an override, the -1 opt-out, and what the plan says (tests/unit/test_wal_keep_guard.py
covers the rule)."""

from __future__ import annotations

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

        # a later default run keeps the value the group holds
        again = stack.run()
        assert again.status == "SUCCEEDED", again.cause
        assert again.output["changes"] == [] and group_value() == "4096"

        # the opt-out: unbounded again, a dynamic change
        opt_out = stack.run(max_slot_wal_keep_size_mb=-1)
        assert opt_out.status == "SUCCEEDED", opt_out.cause
        assert opt_out.output["changes"] == [
            f"set max_slot_wal_keep_size=-1 in parameter group {GROUP} (MB, from max_slot_wal_keep_size_mb)"
        ]
        assert group_value() == "-1" and stack.sql("SHOW max_slot_wal_keep_size") == [["-1"]]
        assert stack.instance.reboots == 1  # the first run's, for rds.logical_replication
