"""The optional max_slot_wal_keep_size guard in EnsureParameterGroup's plan."""

from __future__ import annotations

import pytest

from lambdas.logic.parameter_group import ensure_parameter_group, plan_parameter_group
from lambdas.shared.errors import InvalidInput
from tests.unit.test_steps import FakeRds, instance

REQUIRED = {"rds.logical_replication": "1", "wal_sender_timeout": "0"}


def test_unset_guard_leaves_the_parameter_alone():
    rds = FakeRds(groups={"team-pg15": dict(REQUIRED)})
    plan = plan_parameter_group(rds, instance("team-pg15"))
    assert plan.parameters == {}


def test_set_guard_is_applied_immediately_without_a_reboot():
    rds = FakeRds(groups={"team-pg15": dict(REQUIRED)}, owned={"team-pg15"})  # the workflow's own group

    changes, reboot = ensure_parameter_group(rds, instance("team-pg15"), "postgres15", 8192)

    assert changes == ["set max_slot_wal_keep_size=8192 in parameter group team-pg15"]
    assert rds.calls == [("set", "team-pg15", {"max_slot_wal_keep_size": ("8192", "immediate")})]
    assert not reboot
    # Then a second run finds it set
    assert plan_parameter_group(rds, instance("team-pg15"), 8192).parameters == {}


def test_guard_on_postgresql_12_is_invalid_input():
    old = instance("team-pg12")
    old = type(old)(**{**old.__dict__, "engine_version": "12.19"})
    with pytest.raises(InvalidInput, match="needs PostgreSQL 13"):
        plan_parameter_group(FakeRds(groups={"team-pg12": {}}), old, 2048)
