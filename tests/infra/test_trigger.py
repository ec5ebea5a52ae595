"""The EventBridge rules in the synthesized template, matched against sample events."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from moto.events.models import EventPattern

from tests.infra.synth import Synth, actions_of, resources_of, role_statements, step_statements

pytestmark = pytest.mark.infra

ARN = "arn:aws:rds:us-east-1:123456789012:db:orders-prod"
CLUSTER_ARN = "arn:aws:rds:us-east-1:123456789012:cluster:orders-aurora"
INSTANCE_CREATED = {
    "version": "0",
    "id": "68f6e973-1a0c-d37b-f2f2-94a7f62ffd4e",
    "detail-type": "RDS DB Instance Event",
    "source": "aws.rds",
    "account": "123456789012",
    "time": "2024-05-01T10:00:00Z",
    "region": "us-east-1",
    "resources": [ARN],
    "detail": {
        "EventCategories": ["creation"],
        "SourceType": "DB_INSTANCE",
        "SourceArn": ARN,
        "Message": "DB instance created",
        "SourceIdentifier": "orders-prod",
        "EventID": "RDS-EVENT-0005",
    },
}


# RDS-EVENT-0170 "DB cluster created" (Aurora User Guide, "DB cluster events"), as EventBridge delivers it.
CLUSTER_CREATED = {
    "version": "0",
    "id": "9f3b2a61-6c1d-4a0e-b1d5-2f0c3e8d7a41",
    "detail-type": "RDS DB Cluster Event",
    "source": "aws.rds",
    "account": "123456789012",
    "time": "2024-05-01T10:00:00Z",
    "region": "us-east-1",
    "resources": [CLUSTER_ARN],
    "detail": {
        "EventCategories": ["creation"],
        "SourceType": "CLUSTER",
        "SourceArn": CLUSTER_ARN,
        "Date": "2024-05-01T10:00:00.000Z",
        "Message": "DB cluster created",
        "SourceIdentifier": "orders-aurora",
        "EventID": "RDS-EVENT-0170",
        "Tags": {"streamkap:cdc": "enabled"},
    },
}


def tag_change(changed: list[str], tags: dict[str, str], resource_type: str = "db") -> dict[str, Any]:
    """The resource-type is the ARN's: `db` for an instance, `cluster` for an Aurora cluster."""
    return {
        "version": "0",
        "id": "ffd8a6fe-32f8-ef66-c85c-111111111111",
        "detail-type": "Tag Change on Resource",
        "source": "aws.tag",
        "account": "123456789012",
        "time": "2024-05-01T10:00:00Z",
        "region": "us-east-1",
        "resources": [CLUSTER_ARN if resource_type == "cluster" else ARN],
        "detail": {"changed-tag-keys": changed, "service": "rds", "resource-type": resource_type, "tags": tags},
    }


def with_detail(event: dict[str, Any], **detail: Any) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    changed["detail"].update(detail)
    return changed


RULES = ("InstanceCreated", "ClusterCreated", "OptInTagSet")


def rules(synth: Synth) -> dict[str, dict[str, Any]]:
    """Rule name (InstanceCreated / ClusterCreated / OptInTagSet) -> properties."""
    found = synth.resources("AWS::Events::Rule")
    return {name: p["Properties"] for name in RULES for k, p in found.items() if name in k}


def matching(synth: Synth, event: dict[str, Any]) -> set[str]:
    return {
        name
        for name, rule in rules(synth).items()
        if EventPattern.load(json.dumps(rule["EventPattern"])).matches_event(event)
    }


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (INSTANCE_CREATED, {"InstanceCreated"}),
        (CLUSTER_CREATED, {"ClusterCreated"}),
        (with_detail(CLUSTER_CREATED, Tags={}), {"ClusterCreated"}),  # untagged: the workflow skips it
        (tag_change(["streamkap:cdc"], {"streamkap:cdc": "enabled", "team": "orders"}), {"OptInTagSet"}),
        (tag_change(["team", "streamkap:cdc"], {"streamkap:cdc": "enabled"}), {"OptInTagSet"}),
        # not matching:
        (with_detail(INSTANCE_CREATED, EventID="RDS-EVENT-0006", Message="DB instance restarted"), set()),
        ({**INSTANCE_CREATED, "detail-type": "RDS DB Snapshot Event"}, set()),
        ({**INSTANCE_CREATED, "source": "aws.ec2"}, set()),
        (tag_change(["streamkap:cdc"], {"streamkap:cdc": "disabled"}), set()),
        (tag_change(["streamkap:cdc"], {}), set()),  # the tag removed
        (tag_change(["team"], {"streamkap:cdc": "enabled", "team": "orders"}), set()),  # another tag changed
        (tag_change(["streamkap:cdc"], {"streamkap:cdc": "enabled"}, resource_type="cluster"), {"OptInTagSet"}),
        # not matching:
        (with_detail(CLUSTER_CREATED, EventID="RDS-EVENT-0171", Message="DB cluster deleted"), set()),
        ({**CLUSTER_CREATED, "detail-type": "RDS DB Instance Event"}, set()),  # 0170 is a cluster event only
        ({**INSTANCE_CREATED, "detail-type": "RDS DB Cluster Event"}, set()),  # 0005 is an instance event only
        (tag_change(["streamkap:cdc"], {"streamkap:cdc": "disabled"}, resource_type="cluster"), set()),
        (tag_change(["streamkap:cdc"], {"streamkap:cdc": "enabled"}, resource_type="pg"), set()),
        (tag_change(["streamkap:cdc"], {"streamkap:cdc": "enabled"}, resource_type="cluster-snapshot"), set()),
    ],
    ids=[
        "instance-created",
        "cluster-created",
        "untagged-cluster-created",
        "opt-in-tag-set",
        "opt-in-tag-among-others",
        "instance-restarted",
        "snapshot-event",
        "other-source",
        "opt-in-tag-disabled",
        "opt-in-tag-removed",
        "other-tag-changed",
        "cluster-tagged",
        "cluster-deleted",
        "cluster-event-id-as-instance-event",
        "instance-event-id-as-cluster-event",
        "cluster-opt-in-tag-disabled",
        "parameter-group-tagged",
        "cluster-snapshot-tagged",
    ],
)
def test_rule_patterns_match_new_instances_and_clusters_and_the_opt_in_tag_only(
    default: Synth, event: dict[str, Any], expected: set[str]
) -> None:
    assert matching(default, event) == expected


def test_the_tag_rule_follows_the_configured_opt_in_tag(with_vpc: Synth) -> None:
    assert with_vpc.config.opt_in_tag == "cdc-setup=yes"
    assert matching(with_vpc, tag_change(["cdc-setup"], {"cdc-setup": "yes"})) == {"OptInTagSet"}
    assert matching(with_vpc, tag_change(["streamkap:cdc"], {"streamkap:cdc": "enabled"})) == set()


def test_the_rules_describe_what_they_start_on(default: Synth) -> None:
    descriptions = {name: rule["Description"] for name, rule in rules(default).items()}
    assert "new RDS instance" in descriptions["InstanceCreated"]
    assert "Aurora cluster member is skipped" in descriptions["InstanceCreated"]
    assert "new Aurora cluster" in descriptions["ClusterCreated"]
    assert "waits for its writer" in descriptions["ClusterCreated"]
    assert descriptions["OptInTagSet"].endswith("set on an RDS instance or Aurora cluster")


def test_every_rule_starts_the_state_machine_with_the_event_and_retries(synth: Synth) -> None:
    machine_id, _ = synth.state_machine()
    role_ids = set()
    assert rules(synth).keys() == set(RULES)
    for rule in rules(synth).values():
        assert rule["State"] == "ENABLED"
        [target] = rule["Targets"]
        assert target["Arn"] == {"Ref": machine_id}
        assert "Input" not in target and "InputPath" not in target  # the event itself is the input
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
        role_ids.add(target["RoleArn"]["Fn::GetAtt"][0])
    [role_id] = role_ids
    statements = role_statements(synth, role_id)
    assert [(actions_of(s), s["Resource"]) for s in statements] == [(["states:StartExecution"], {"Ref": machine_id})]


def test_read_trigger_tags_may_read_only_instances_and_clusters_by_arn_kind(with_vpc: Synth) -> None:
    # Given ReadTriggerTags' role, Then its RDS actions are these, each on its own ARN kind only:
    # the tags of either kind an event names, the instance's cluster, the cluster's writer.
    prefix = "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:"
    granted = {
        (action, resource)
        for statement in step_statements(with_vpc, "ReadTriggerTags")
        for action in actions_of(statement)
        if action.startswith("rds:")
        for resource in resources_of(statement)
    }
    assert granted == {
        ("rds:DescribeDBInstances", f"{prefix}db:*"),
        ("rds:ListTagsForResource", f"{prefix}db:*"),
        ("rds:DescribeDBClusters", f"{prefix}cluster:*"),
        ("rds:ListTagsForResource", f"{prefix}cluster:*"),
    }
