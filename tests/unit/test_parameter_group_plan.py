"""The parameter-group plan: which group the workflow may change, copy, create or adopt, and the
pending changes its reboot would apply. Every branch, over the fake RDS port."""

from __future__ import annotations

import pytest

from lambdas.logic.parameter_group import ensure_parameter_group, plan_parameter_group
from lambdas.shared.errors import NotOwned
from tests.unit.test_steps import FakeRds, instance, writer

MINE = "orders-prod-streamkap-cdc"
REQUIRED = {"rds.logical_replication": ("1", "pending-reboot"), "wal_sender_timeout": ("0", "immediate")}
SET = {"rds.logical_replication": "1", "wal_sender_timeout": "0"}


def describe(rds: FakeRds, info=None, **kwargs) -> list[str]:
    info = info or instance()
    where = f"cluster {info.cluster_id}" if info.cluster_id else f"instance {info.instance_id}"
    lines = plan_parameter_group(rds, info, **kwargs).describe(where, "postgres15")
    return [line for line in lines if not line.startswith(WAL_NOTE)]  # tests/unit/test_wal_keep_guard.py


WAL_NOTE = "max_slot_wal_keep_size"  # the plan's line on it (the fake instances' storage is unknown)


# ---- default group attached -----------------------------------------------------------------


def test_on_a_default_group_the_workflow_creates_its_own_group_and_attaches_it():
    rds = FakeRds()
    changes, reboot = ensure_parameter_group(rds, instance(), "postgres15")
    assert [c[0] for c in rds.calls] == ["create", "set", "attach"] and reboot
    assert changes[0] == f"create parameter group {MINE} (family postgres15)"


def test_on_a_default_group_a_foreign_group_with_the_workflows_name_is_refused_before_any_change():
    rds = FakeRds(groups={MINE: {}})  # made by hand, no owner tag
    plan = plan_parameter_group(rds, instance())
    assert plan.refusals and not plan.attach_group and not plan.parameters
    with pytest.raises(
        NotOwned, match=rf'{MINE} exists and was not created by this workflow.*adopt: \["parameter_group"\]'
    ):
        ensure_parameter_group(rds, instance(), "postgres15")
    assert rds.calls == []
    assert describe(rds)[-1].startswith(f"refused (a real run stops here): parameter group {MINE} exists")


def test_adopting_the_foreign_group_tags_it_then_uses_it_and_the_plan_says_so():
    rds = FakeRds(groups={MINE: {"wal_sender_timeout": "0"}})
    assert describe(rds, adopt=["parameter_group"])[0] == (
        f"adopt parameter group {MINE}: tag it created-by=rds-cdc-setup (it exists without the workflow's tag)"
    )
    ensure_parameter_group(rds, instance(), "postgres15", adopt=["parameter_group"])
    assert rds.calls == [
        ("tag", MINE),
        ("set", MINE, {"rds.logical_replication": ("1", "pending-reboot")}),
        ("attach", "orders-prod", MINE),
    ]


def test_the_workflows_group_attached_to_another_instance_is_refused():
    rds = FakeRds(groups={MINE: {}}, owned={MINE}, holders={MINE: ["instance orders-copy"]})
    with pytest.raises(NotOwned, match="also attached to instance orders-copy"):
        ensure_parameter_group(rds, instance(), "postgres15")
    assert rds.calls == []


# ---- a custom group attached ------------------------------------------------------------------


def test_a_group_that_already_holds_the_values_is_left_alone_whoever_owns_it():
    rds = FakeRds(groups={"team-pg": dict(SET)}, holders={"team-pg": ["instance orders-prod", "instance b"]})
    assert describe(rds, instance("team-pg")) == []
    assert ensure_parameter_group(rds, instance("team-pg"), "postgres15") == ([], False)
    assert rds.calls == []


def test_the_workflows_own_group_used_by_this_target_alone_is_changed_in_place():
    rds = FakeRds(groups={"team-pg": {}}, owned={"team-pg"}, holders={"team-pg": ["instance orders-prod"]})
    ensure_parameter_group(rds, instance("team-pg"), "postgres15")
    assert rds.calls == [("set", "team-pg", REQUIRED)]


def test_a_team_group_used_only_by_the_target_is_copied_not_modified():
    rds = FakeRds(groups={"team-pg": {"work_mem": "64MB", "wal_sender_timeout": "0"}})
    changes, reboot = ensure_parameter_group(rds, instance("team-pg"), "postgres15")
    assert rds.calls == [
        ("copy", "team-pg", MINE),
        ("set", MINE, {"rds.logical_replication": ("1", "pending-reboot")}),  # the copy has the rest
        ("attach", "orders-prod", MINE),
    ]
    assert rds.groups["team-pg"] == {"work_mem": "64MB", "wal_sender_timeout": "0"}
    assert rds.groups[MINE]["work_mem"] == "64MB" and reboot
    assert changes[0] == (f"copy parameter group team-pg to {MINE} (team-pg is not the workflow's; it stays as it is)")


def test_a_shared_team_group_is_copied_and_the_plan_names_the_other_instances():
    rds = FakeRds(groups={"team-pg": {}}, holders={"team-pg": ["instance orders-prod", "instance orders-replica-2"]})
    assert describe(rds, instance("team-pg"))[0] == (
        f"copy parameter group team-pg to {MINE} (shared with instance orders-replica-2; it stays as it is)"
    )


def test_the_workflows_own_group_shared_with_another_instance_is_copied_too():
    rds = FakeRds(
        groups={"a-streamkap-cdc": {}}, owned={"a-streamkap-cdc"}, holders={"a-streamkap-cdc": ["instance a"]}
    )
    ensure_parameter_group(rds, instance("a-streamkap-cdc"), "postgres15")
    assert [c[0] for c in rds.calls] == ["copy", "set", "attach"] and rds.groups["a-streamkap-cdc"] == {}


def test_a_crash_after_the_copy_resumes_without_copying_again():
    rds = FakeRds(groups={"team-pg": {}, MINE: {"wal_sender_timeout": "0"}}, owned={MINE})
    ensure_parameter_group(rds, instance("team-pg"), "postgres15")
    assert rds.calls == [
        ("set", MINE, {"rds.logical_replication": ("1", "pending-reboot")}),
        ("attach", "orders-prod", MINE),
    ]


def test_copying_onto_a_foreign_group_with_the_workflows_name_is_refused():
    rds = FakeRds(groups={"team-pg": {}, MINE: {}})
    with pytest.raises(NotOwned, match="copy team-pg to it and attach it to instance orders-prod"):
        ensure_parameter_group(rds, instance("team-pg"), "postgres15")
    assert rds.calls == []


def test_an_attached_foreign_group_with_the_workflows_name_is_refused_or_adopted_in_place():
    rds = FakeRds(groups={MINE: {}})
    with pytest.raises(NotOwned, match=f"{MINE} exists and was not created by this workflow"):
        ensure_parameter_group(rds, instance(MINE), "postgres15")
    assert rds.calls == []
    ensure_parameter_group(rds, instance(MINE), "postgres15", adopt=["parameter_group"])
    assert rds.calls == [("tag", MINE), ("set", MINE, REQUIRED)]


def test_the_workflows_named_group_attached_elsewhere_too_is_refused_even_with_adopt():
    rds = FakeRds(groups={MINE: {}}, owned={MINE}, holders={MINE: ["instance orders-prod", "instance other"]})
    with pytest.raises(NotOwned, match="also attached to instance other"):
        ensure_parameter_group(rds, instance(MINE), "postgres15", adopt=["parameter_group"])


def test_an_aurora_team_cluster_group_is_copied_with_copy_db_cluster_parameter_group():
    rds = FakeRds(groups={"team-aurora": {}}, holders={"team-aurora": ["cluster orders-aurora", "cluster billing"]})
    ensure_parameter_group(rds, writer("team-aurora"), "aurora-postgresql15")
    assert rds.calls == [
        ("copy-cluster", "team-aurora", "orders-aurora-streamkap-cdc"),
        ("set-cluster", "orders-aurora-streamkap-cdc", REQUIRED),
        ("attach-cluster", "orders-aurora", "orders-aurora-streamkap-cdc"),
    ]


# ---- changes already pending a reboot ---------------------------------------------------------

PENDING_LINE = (
    "the reboot also applies parameter changes already pending on parameter group team-pg, not made by this workflow"
)


def test_pending_changes_on_a_foreign_group_are_refused_before_any_change():
    rds = FakeRds(groups={"team-pg": dict(SET)})
    pending = instance("team-pg", apply="pending-reboot")
    with pytest.raises(NotOwned, match=r'pending a reboot on parameter group team-pg.*adopt: \["pending_changes"\]'):
        ensure_parameter_group(rds, pending, "postgres15")
    assert rds.calls == []
    plan = describe(rds, pending)
    assert plan[0] == PENDING_LINE and plan[1].startswith("refused (a real run stops here): instance orders-prod")


def test_adopted_pending_changes_are_listed_and_the_run_proceeds():
    rds = FakeRds(groups={"team-pg": {}})
    pending = instance("team-pg", apply="pending-reboot")
    plan = describe(rds, pending, adopt=["pending_changes"])
    assert PENDING_LINE in plan and not any(line.startswith("refused") for line in plan)
    ensure_parameter_group(rds, pending, "postgres15", adopt=["pending_changes"])
    assert [c[0] for c in rds.calls] == ["copy", "set", "attach"]


def test_pending_changes_on_the_workflows_own_group_are_its_own():
    rds = FakeRds(groups={MINE: dict(SET)}, owned={MINE})
    assert describe(rds, instance(MINE, apply="pending-reboot")) == []


def test_pending_on_a_default_group_is_no_ones_edit():
    assert (
        describe(FakeRds(), instance(apply="pending-reboot"))[-1]
        == f"attach parameter group {MINE} to instance orders-prod"
    )


def test_without_a_reboot_the_pending_changes_are_only_mentioned():
    rds = FakeRds(groups={"team-pg": dict(SET)})
    plan = plan_parameter_group(rds, instance("team-pg", apply="pending-reboot"), reboots=False)
    assert plan.refusals == ()
    assert describe(rds, instance("team-pg", apply="pending-reboot"), reboots=False) == [
        "parameter changes already pending on parameter group team-pg, not made by this workflow, "
        "wait for the next reboot of instance orders-prod"
    ]


# ---- teardown: revert only the workflow's own group -------------------------------------------


class TeardownRds(FakeRds):
    def __init__(self, *args, tags: dict[str, dict[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra_tags = tags or {}

    def parameter_group_tags(self, group, *, cluster=False):
        found = super().parameter_group_tags(group, cluster=cluster)
        return None if found is None else {**found, **self.extra_tags.get(group, {})}


def revert(rds: FakeRds) -> tuple[list[str], str | None]:
    from types import SimpleNamespace

    from lambdas.logic.teardown import parameter_group_changes
    from lambdas.shared.models import Target
    from lambdas.shared.teardown_models import TeardownInput

    target = Target(
        instance_id="orders-prod", engine="postgres", engine_version="15.4", major_version=15, status="available",
        parameter_group=rds.described.parameter_group, parameter_group_family="postgres15",
        parameter_apply_status="in-sync", host="h", port=5432, database="orders", master_secret_arn="arn:m",
    )  # fmt: skip
    catalog = SimpleNamespace(other_logical_slots=(), slot=None)
    t = TeardownInput(db_instance_identifier="orders-prod", revert_parameter_group=True)
    return parameter_group_changes(rds, catalog, t, target, slot_dropped=True)  # type: ignore[arg-type]


def test_teardown_leaves_a_group_with_the_workflows_name_that_is_not_its_own():
    assert revert(FakeRds(groups={MINE: {}}, described=instance(MINE))) == ([], None)


def test_teardown_reverts_its_own_group_to_the_default_or_to_the_group_it_copied():
    created = FakeRds(groups={MINE: {}}, owned={MINE}, described=instance(MINE))
    assert revert(created)[1] == "default.postgres15"
    copied = TeardownRds(
        groups={MINE: {}, "team-pg": {}},
        owned={MINE},
        described=instance(MINE),
        tags={MINE: {"rds-cdc-setup:copied-from": "team-pg"}},
    )
    changes, back = revert(copied)
    assert back == "team-pg" and "(the group it was copied from;" in changes[0]
    del copied.groups["team-pg"]  # the team deleted it since: back to the default
    assert revert(copied)[1] == "default.postgres15"


# ---- the step: what the reboot must apply, read back after the changes --------------------------


class AttachingRds(FakeRds):
    """Describes the instance with the group last attached to it."""

    def attach_parameter_group(self, instance_id, group, *, cluster_id=None):
        super().attach_parameter_group(instance_id, group, cluster_id=cluster_id)
        self.described = instance(group, apply="pending-reboot")


def ensure_step(rds: FakeRds, wal_level: str = "replica", reboot: str = "immediate"):
    from lambdas.logic.parameter_group import ensure_logical_replication
    from lambdas.shared.models import SetupInput, Target

    target = Target(
        instance_id="orders-prod", engine="postgres", engine_version="15.4", major_version=15, status="available",
        parameter_group=rds.described.parameter_group, parameter_group_family="postgres15",
        parameter_apply_status="in-sync", host="h", port=5432, database="orders", master_secret_arn="arn:m",
    )  # fmt: skip
    setup = SetupInput(db_instance_identifier="orders-prod", reboot=reboot)
    return ensure_logical_replication(rds, target, setup, wal_level)  # type: ignore[arg-type]


def test_the_step_needs_a_reboot_for_its_own_changes():
    result = ensure_step(AttachingRds(), wal_level="logical")
    assert result.reboot_required and result.changes and result.parameter_group == MINE


def test_a_ready_group_needs_no_reboot_on_a_logical_server_but_does_on_one_not_logical_yet():
    ready = {MINE: dict(SET)}
    assert not ensure_step(FakeRds(ready, instance(MINE), owned={MINE}), wal_level="logical").reboot_required
    # The group holds the values but the server never rebooted into them (e.g. set by hand).
    result = ensure_step(FakeRds(ready, instance(MINE), owned={MINE}), wal_level="replica")
    assert result.reboot_required and result.changes == []


def test_changes_pending_on_the_attached_group_need_the_reboot():
    rds = FakeRds({MINE: dict(SET)}, instance(MINE, apply="pending-reboot"), owned={MINE})
    assert ensure_step(rds, wal_level="logical").reboot_required
