"""Finding 8 of issue 12 through the real state machine: the workflow changes only parameter
groups it owns (the created-by tag), copies a group it does not own or that is shared, refuses a
foreign group with its name unless adopted, and refuses to reboot in someone else's pending
static changes unless adopted. Refusals leave the catalog and the RDS state exactly as they were."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from local.postgres_server import LocalPostgres
from local.workflow_runner import ROOT, LocalWorkflow
from tests.snapshots import everything
from tests.workflow.conftest import INSTANCE, Stack, make_stack
from tests.workflow.test_aurora import CLUSTER, CUSTOM_GROUP, make_cluster

pytestmark = pytest.mark.workflow

MINE = f"{INSTANCE}-streamkap-cdc"
OWNER = {"Key": "created-by", "Value": "rds-cdc-setup"}
TEAM = "team-pg"


def parameters(group: str, *, cluster: bool = False) -> dict[str, str]:
    rds = boto3.client("rds")
    if cluster:
        found = rds.describe_db_cluster_parameters(DBClusterParameterGroupName=group)["Parameters"]
    else:
        found = rds.describe_db_parameters(DBParameterGroupName=group)["Parameters"]
    return {p["ParameterName"]: p["ParameterValue"] for p in found}


def tags(group: str, *, cluster: bool = False) -> list[dict]:
    rds = boto3.client("rds")
    if cluster:
        arn = rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName=group)["DBClusterParameterGroups"][
            0
        ]["DBClusterParameterGroupArn"]
    else:
        arn = rds.describe_db_parameter_groups(DBParameterGroupName=group)["DBParameterGroups"][0][
            "DBParameterGroupArn"
        ]
    return rds.list_tags_for_resource(ResourceName=arn)["TagList"]


def attached(instance_id: str) -> str:
    raw = boto3.client("rds").describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]
    return raw["DBParameterGroups"][0]["DBParameterGroupName"]


def set_team_values(group: str, *values: tuple[str, str, str]) -> None:
    boto3.client("rds").modify_db_parameter_group(
        DBParameterGroupName=group,
        Parameters=[{"ParameterName": n, "ParameterValue": v, "ApplyMethod": m} for n, v, m in values],
    )


@pytest.fixture
def team(new_server: LocalPostgres) -> Iterator[Stack]:
    """The target on the team's own group (no owner tag) holding a value of the team's."""
    for stack in make_stack(new_server, parameter_group=TEAM):
        set_team_values(TEAM, ("work_mem", "65536", "immediate"))
        stack.instance.calls.clear()  # staging: only the workflow's calls are asserted
        yield stack


@pytest.fixture
def default(stack: Stack) -> Stack:
    return stack


def test_a_shared_team_group_is_copied_and_the_other_instance_keeps_its_group(team):
    # Given a second instance on the same team group
    rds = boto3.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="orders-replica-2",
        Engine="postgres",
        EngineVersion="15.4",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        MasterUsername="admin",
        ManageMasterUserPassword=True,
        DBParameterGroupName=TEAM,
    )
    team_before = parameters(TEAM)

    plan = team.run(dry_run=True).output["plan"]
    execution = team.run()

    copy_line = f"copy parameter group {TEAM} to {MINE} (shared with instance orders-replica-2; it stays as it is)"
    assert plan[0] == copy_line
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["changes"][0] == copy_line
    # the other instance keeps the team group, whose values are unchanged
    assert attached("orders-replica-2") == TEAM and parameters(TEAM) == team_before
    assert "rds.logical_replication" not in team_before
    # the target runs on the copy: the team's value, ours, and the owner tag
    assert attached(INSTANCE) == MINE
    copied = parameters(MINE)
    assert (copied["work_mem"], copied["rds.logical_replication"], copied["wal_sender_timeout"]) == ("65536", "1", "0")
    assert OWNER in tags(MINE) and OWNER not in tags(TEAM)
    assert team.instance.calls == [f"ModifyDBInstance {MINE}", "RebootDBInstance"]
    assert team.sql("SHOW wal_level") == [["logical"]]

    # Then a re-run converges with no RDS call
    again = team.run()
    assert again.status == "SUCCEEDED" and again.output["changes"] == []
    assert team.instance.calls == [f"ModifyDBInstance {MINE}", "RebootDBInstance"]


def test_a_foreign_group_with_the_workflows_name_is_refused_and_nothing_changes(default):
    # Given a group named like the workflow's, made by someone else
    boto3.client("rds").create_db_parameter_group(
        DBParameterGroupName=MINE, DBParameterGroupFamily="postgres15", Description="made by hand"
    )
    before = everything(default.server, "orders")

    execution = default.run()

    assert execution.status == "FAILED" and execution.error == "NotOwned", execution.cause
    assert MINE in execution.cause and 'adopt: ["parameter_group"]' in execution.cause
    assert execution.states_entered[-5:] == ["DescribeTarget", "ReleaseLock", "LockReleased", "NotifyFailure", "Failed"]
    assert everything(default.server, "orders") == before
    assert default.instance.calls == []


def test_adopting_the_foreign_group_is_shown_in_the_dry_run_then_tags_and_uses_it(default):
    boto3.client("rds").create_db_parameter_group(
        DBParameterGroupName=MINE, DBParameterGroupFamily="postgres15", Description="made by hand"
    )
    before = everything(default.server, "orders")

    dry = default.run(dry_run=True, adopt=["parameter_group"])

    assert dry.status == "SUCCEEDED" and dry.output["status"] == "DryRun"
    adopt_line = f"adopt parameter group {MINE}: tag it created-by=rds-cdc-setup (it exists without the workflow's tag)"
    assert dry.output["plan"][:2] == [adopt_line, f"set rds.logical_replication=1 in parameter group {MINE}"]
    assert everything(default.server, "orders") == before

    execution = default.run(adopt=["parameter_group"])

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["changes"][0] == adopt_line
    assert OWNER in tags(MINE) and attached(INSTANCE) == MINE
    assert parameters(MINE)["rds.logical_replication"] == "1"


def test_a_dry_run_lists_the_refusal_instead_of_failing(default):
    boto3.client("rds").create_db_parameter_group(
        DBParameterGroupName=MINE, DBParameterGroupFamily="postgres15", Description="made by hand"
    )
    dry = default.run(dry_run=True)
    assert dry.status == "SUCCEEDED", dry.cause
    assert dry.output["plan"][0].startswith(f"refused (a real run stops here): parameter group {MINE} exists")


PENDING = (
    f"the reboot also applies parameter changes already pending on parameter group {TEAM}, not made by this workflow"
)


def test_pending_changes_not_made_by_the_workflow_are_refused_before_any_change(team):
    # Given a static change of the team's, pending the instance's next reboot
    set_team_values(TEAM, ("max_wal_senders", "20", "pending-reboot"))
    assert team.describe()["DBParameterGroups"][0]["ParameterApplyStatus"] == "pending-reboot"
    team.instance.calls.clear()
    before = everything(team.server, "orders")

    execution = team.run()

    assert execution.status == "FAILED" and execution.error == "NotOwned", execution.cause
    assert f"pending a reboot on parameter group {TEAM}" in execution.cause
    assert 'adopt: ["pending_changes"]' in execution.cause
    assert "EnsureParameterGroup" not in execution.states_entered
    assert everything(team.server, "orders") == before
    assert team.instance.calls == [] and team.instance.reboots == 0

    # a dry run lists it; with adopt pending_changes the plan says so and nothing is refused
    assert PENDING in team.run(dry_run=True).output["plan"]
    plan = team.run(dry_run=True, adopt=["pending_changes"]).output["plan"]
    assert PENDING in plan and not any(line.startswith("refused") for line in plan)

    adopted = team.run(adopt=["pending_changes"])

    assert adopted.status == "SUCCEEDED", adopted.cause
    assert adopted.output["status"] == "Ready" and team.instance.reboots == 1
    assert parameters(TEAM).get("rds.logical_replication") is None  # still copied, not modified


def test_a_rerun_after_the_workflows_own_change_is_pending_converges(team):
    # Given a first run that copied and attached the group but did not reboot (as after a crash)
    pending = team.run(reboot="never")
    assert pending.output["status"] == "RebootPending", pending.cause
    assert team.describe()["DBParameterGroups"] == [
        {"DBParameterGroupName": MINE, "ParameterApplyStatus": "pending-reboot"}
    ]
    calls = list(team.instance.calls)

    finished = team.run()

    # pending on the workflow's own group counts as its own: no refusal, only the reboot
    assert finished.status == "SUCCEEDED", finished.cause
    assert finished.output["status"] == "Ready"
    assert team.instance.calls == [*calls, "RebootDBInstance"]
    assert not any("parameter group" in c and not c.startswith("rebooted") for c in finished.output["changes"])


def test_teardown_reattaches_the_group_the_copy_was_made_from(team):
    assert team.run().status == "SUCCEEDED"
    with LocalWorkflow(asl_file=ROOT / "statemachine" / "cdc_teardown.asl.json") as teardown:
        execution = teardown.run(
            {"db_instance_identifier": INSTANCE, "drop_slot": True, "revert_parameter_group": True}
        )
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["changes"][-1].startswith(
        f"attach parameter group {TEAM} to instance {INSTANCE} instead of {MINE} (the group it was copied from;"
    )
    assert attached(INSTANCE) == TEAM and parameters(MINE)["rds.logical_replication"] == "1"


def test_teardown_leaves_a_group_that_is_not_the_workflows(new_server):
    # Given a team group already set for logical replication: setup changes no group
    for stack in make_stack(new_server, parameter_group=TEAM):
        set_team_values(
            TEAM, ("rds.logical_replication", "1", "pending-reboot"), ("wal_sender_timeout", "0", "immediate")
        )
        stack.instance.pending_reboot = False  # the team rebooted
        assert stack.run().status == "SUCCEEDED"
        with LocalWorkflow(asl_file=ROOT / "statemachine" / "cdc_teardown.asl.json") as teardown:
            execution = teardown.run(
                {"db_instance_identifier": INSTANCE, "drop_slot": True, "revert_parameter_group": True}
            )
        assert execution.status == "SUCCEEDED", execution.cause
        assert not any("parameter group" in c for c in execution.output["changes"])
        assert attached(INSTANCE) == TEAM


# ---- Aurora -----------------------------------------------------------------------------------

AURORA_TEAM = "team-aurora-pg15"


def test_an_aurora_team_cluster_group_shared_with_another_cluster_is_copied(new_server):
    for aurora in make_cluster(new_server, cluster_parameter_group=AURORA_TEAM, team_values=False):
        rds = boto3.client("rds")
        rds.create_db_cluster(
            DBClusterIdentifier="billing-aurora",
            Engine="aurora-postgresql",
            EngineVersion="15.4",
            MasterUsername="admin",
            ManageMasterUserPassword=True,
            DBClusterParameterGroupName=AURORA_TEAM,
        )
        team_before = parameters(AURORA_TEAM, cluster=True)

        execution = aurora.run()

        assert execution.status == "SUCCEEDED", execution.cause
        assert execution.output["changes"][0] == (
            f"copy cluster parameter group {AURORA_TEAM} to {CUSTOM_GROUP} (shared with cluster billing-aurora; "
            "it stays as it is)"
        )
        assert aurora.cluster()["DBClusterParameterGroup"] == CUSTOM_GROUP
        billing = rds.describe_db_clusters(DBClusterIdentifier="billing-aurora")["DBClusters"][0]
        assert billing["DBClusterParameterGroup"] == AURORA_TEAM
        assert parameters(AURORA_TEAM, cluster=True) == team_before
        assert parameters(CUSTOM_GROUP, cluster=True)["work_mem"] == "65536"
        assert OWNER in tags(CUSTOM_GROUP, cluster=True)
        assert aurora.writer.calls == [f"ModifyDBCluster {CUSTOM_GROUP}", "RebootDBInstance"]
        assert aurora.sql("SHOW wal_level") == [["logical"]]


def test_an_aurora_foreign_group_with_the_workflows_name_is_refused_and_nothing_changes(new_server):
    for aurora in make_cluster(new_server):
        boto3.client("rds").create_db_cluster_parameter_group(
            DBClusterParameterGroupName=CUSTOM_GROUP, DBParameterGroupFamily="aurora-postgresql15", Description="hand"
        )
        before = everything(aurora.server, "orders")

        execution = aurora.run()

        assert execution.error == "NotOwned", execution.cause
        assert f"cluster parameter group {CUSTOM_GROUP} exists" in execution.cause
        assert everything(aurora.server, "orders") == before
        assert aurora.cluster()["DBClusterIdentifier"] == CLUSTER and aurora.writer.calls == []
