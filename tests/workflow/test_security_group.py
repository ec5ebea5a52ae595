"""allow_cidrs through the real setup and teardown state machines, each step under its own IAM
policies: the workflow's security group is created, attached beside the instance's other groups,
converged to exactly the listed CIDRs (never touching a rule it did not add), refused when its name
is someone else's, and removed by teardown alone of every group."""

from __future__ import annotations

import boto3
import pytest

from lambdas.dal.security_groups import RULE_DESCRIPTION
from local.workflow_runner import ROOT, LocalWorkflow
from tests.snapshots import everything
from tests.workflow.conftest import INSTANCE, Stack

pytestmark = pytest.mark.workflow

TEARDOWN_ASL = ROOT / "statemachine" / "cdc_teardown.asl.json"
NAME = f"rds-cdc-setup-{INSTANCE}-streamkap"
STREAMKAP, TUNNEL, OTHER = "203.0.113.0/24", "198.51.100.7/32", "2001:db8::/48"
TEAM_VPN = "192.0.2.0/24"


def instance_groups(stack: Stack) -> list[str]:
    ec2 = boto3.client("ec2")
    ids = [g["VpcSecurityGroupId"] for g in stack.describe()["VpcSecurityGroups"]]
    return [g["GroupName"] for g in ec2.describe_security_groups(GroupIds=ids)["SecurityGroups"]]


def cluster_groups(described: dict) -> list[str]:
    ids = [g["VpcSecurityGroupId"] for g in described["VpcSecurityGroups"]]
    return [g["GroupName"] for g in boto3.client("ec2").describe_security_groups(GroupIds=ids)["SecurityGroups"]]


def group(name: str = NAME) -> dict | None:
    found = boto3.client("ec2").describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])
    return (found["SecurityGroups"] or [None])[0]


def inbound(name: str = NAME) -> set[tuple[str, int, str | None]]:
    """(CIDR, port, description) of each inbound rule of the group."""
    raw = group(name)
    assert raw is not None
    return {
        (r.get("CidrIp") or r["CidrIpv6"], p["FromPort"], r.get("Description"))
        for p in raw["IpPermissions"]
        for r in [*p["IpRanges"], *p["Ipv6Ranges"]]
    }


def access_changes(changes: list[str]) -> list[str]:
    return [c for c in changes if "security group" in c]


def team_group(stack: Stack) -> str:
    """A group of the team's own beside the default one: it must stay attached and untouched."""
    ec2 = boto3.client("ec2")
    made = ec2.create_security_group(
        GroupName="orders-app", Description="the app", VpcId=stack.describe()["DBSubnetGroup"]["VpcId"]
    )
    ids = [g["VpcSecurityGroupId"] for g in stack.describe()["VpcSecurityGroups"]] + [made["GroupId"]]
    boto3.client("rds").modify_db_instance(
        DBInstanceIdentifier=INSTANCE, VpcSecurityGroupIds=ids, ApplyImmediately=True
    )
    return made["GroupId"]


def test_the_group_is_made_attached_beside_the_others_kept_as_is_on_a_rerun_and_converged_to_a_new_list(stack):
    team_group(stack)
    first = stack.run(allow_cidrs=[STREAMKAP, TUNNEL])
    assert first.output["status"] == "Ready", first.cause
    assert instance_groups(stack) == ["default", "orders-app", NAME]
    assert inbound() == {
        (STREAMKAP, stack.server.port, RULE_DESCRIPTION),
        (TUNNEL, stack.server.port, RULE_DESCRIPTION),
    }
    assert access_changes(first.output["changes"])[-1] == (
        f"added security group {NAME} to instance {INSTANCE}, keeping "
        f"{[g['VpcSecurityGroupId'] for g in stack.describe()['VpcSecurityGroups'][:2]]}"
    )
    # The emulated instance is private: Streamkap could not reach it from a public address.
    assert first.output["warnings"] and "not publicly accessible" in first.output["warnings"][0]

    before = everything(stack.server, "orders", password_hashes=False)
    again = stack.run(allow_cidrs=[TUNNEL, STREAMKAP])
    assert again.output["status"] == "Ready" and access_changes(again.output["changes"]) == []
    assert everything(stack.server, "orders", password_hashes=False) == before

    # Someone adds a rule of their own to the group; a dry run with a new list shows and changes nothing.
    boto3.client("ec2").authorize_security_group_ingress(
        GroupId=group()["GroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": TEAM_VPN}]}],
    )
    before = everything(stack.server, "orders", password_hashes=False)
    dry = stack.run(allow_cidrs=[STREAMKAP, OTHER], dry_run=True)
    assert f"allow {OTHER} on port {stack.server.port} in security group {NAME}" in dry.output["plan"]
    assert (
        f"revoke {TUNNEL} on port {stack.server.port} from security group {NAME} (no longer in allow_cidrs)"
        in (dry.output["plan"])
    )
    assert everything(stack.server, "orders", password_hashes=False) == before

    converged = stack.run(allow_cidrs=[STREAMKAP, OTHER])
    assert access_changes(converged.output["changes"]) == [
        f"allowed {OTHER} on port {stack.server.port} in security group {NAME}",
        f"revoked {TUNNEL} on port {stack.server.port} from security group {NAME}",
    ]
    assert inbound() == {
        (STREAMKAP, stack.server.port, RULE_DESCRIPTION),
        (OTHER, stack.server.port, RULE_DESCRIPTION),
        (TEAM_VPN, 5432, None),  # not the workflow's: kept
    }


def test_a_foreign_group_with_its_name_and_the_whole_internet_are_refused_changing_nothing(stack):
    vpc = stack.describe()["DBSubnetGroup"]["VpcId"]
    boto3.client("ec2").create_security_group(GroupName=NAME, Description="made by hand", VpcId=vpc)
    before = everything(stack.server, "orders")

    foreign = stack.run(allow_cidrs=[STREAMKAP])
    assert foreign.error == "NotOwned" and "adopt: ['security_group']" in foreign.cause
    public = stack.run(allow_cidrs=["0.0.0.0/0"])
    assert public.error == "InvalidInput" and "allow_public_cidrs true" in public.cause
    assert everything(stack.server, "orders") == before

    dry = stack.run(allow_cidrs=[STREAMKAP], adopt=["security_group"], dry_run=True)
    assert f"adopt security group {NAME} ({group()['GroupId']}): tag it as rds-cdc-setup's" in dry.output["plan"]
    assert everything(stack.server, "orders") == before


def test_teardown_detaches_and_deletes_only_the_workflows_group(stack):
    team = team_group(stack)
    assert stack.run(allow_cidrs=[STREAMKAP]).output["status"] == "Ready"
    with LocalWorkflow(asl_file=TEARDOWN_ASL) as teardown:
        dry = teardown.run({"db_instance_identifier": INSTANCE, "drop_security_group": True, "dry_run": True})
        assert dry.output["plan"][-1] == f"delete security group {NAME} ({group()['GroupId']})"

        removed = teardown.run({"db_instance_identifier": INSTANCE, "drop_security_group": True})
        assert removed.output["status"] == "Removed", removed.cause
        assert removed.output["changes"][0].startswith(f"remove security group {NAME} from instance {INSTANCE}")
        assert group() is None
        assert instance_groups(stack) == ["default", "orders-app"]
        assert group("orders-app")["GroupId"] == team

        again = teardown.run({"db_instance_identifier": INSTANCE, "drop_security_group": True})
        assert again.output["changes"] == []


def test_on_aurora_the_group_goes_to_the_cluster_and_teardown_takes_it_off_again(new_server):
    from tests.workflow.test_aurora import CLUSTER, make_cluster

    name = f"rds-cdc-setup-{CLUSTER}-streamkap"
    for cluster in make_cluster(new_server):
        ready = cluster.run(allow_cidrs=[STREAMKAP])
        assert ready.output["status"] == "Ready", ready.cause
        assert cluster_groups(cluster.cluster()) == ["default", name]
        with LocalWorkflow(asl_file=TEARDOWN_ASL) as teardown:
            removed = teardown.run({"db_cluster_identifier": CLUSTER, "drop_security_group": True})
            assert removed.output["status"] == "Removed", removed.cause
        assert cluster_groups(cluster.cluster()) == ["default"] and group(name) is None
