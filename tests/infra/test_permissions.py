"""Blast radius, asserted on the synthesized template: every write reaches only opted-in targets
and what the workflow owns; master secrets only through the deployment's allow-list or tag
condition; each step holds only what it calls (issue 12, finding 5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Annotations, Match, Template

from infra import permissions
from infra.config import CdcSetupConfig, ConfigError
from infra.permissions import Scope, managed_policy, master_secrets
from lambdas.dal.rds import COPIED_FROM_TAG_KEY
from lambdas.shared import ownership
from lambdas.shared.names import handler_module
from tests.infra.synth import OWN_MASTER_SECRET, Synth, actions_of, rendered, resources_of, role_statements, synthesize

pytestmark = pytest.mark.infra

RDS = "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:"
SECRETS = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
EC2 = "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:"
OWNER = {"created-by": "rds-cdc-setup"}
OWNER_IN_REQUEST = {
    "StringEquals": {"aws:RequestTag/created-by": "rds-cdc-setup"},
    "ForAllValues:StringEquals": {"aws:TagKeys": ["created-by"]},
}
# A parameter group's request may carry the owner tag and the group a copy was made from, nothing else.
GROUP_TAGS_IN_REQUEST = {
    "StringEquals": {"aws:RequestTag/created-by": "rds-cdc-setup"},
    "ForAllValues:StringEquals": {"aws:TagKeys": ["created-by", "rds-cdc-setup:copied-from"]},
}
MASTER_READERS = {
    # setup
    "Preflight",
    "CheckRebootStatus",
    "ConfigureDatabase",
    "CreateSlot",
    # check: its reads as the master, and its repair through setup's code
    "CheckDatabase",
    "RepairTarget",
    # teardown: every step that connects as the master
    "PlanTeardown",
    "DropSlot",
    "DropPublication",
    "DropSignalTables",
    "DropUser",
    "RevertParameterGroup",
}


@pytest.fixture(scope="module")
def widened(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """target_scope=account, master secrets by the opt-in tag on the secret; no VPC, its warning acknowledged
    in the form the CDK CLI prints."""
    return synthesize(
        tmp_path_factory.mktemp("widened"),
        target_scope="account",
        master_secret_scope="tagged",
        opt_in_tag="cdc=on",
        acknowledged_warnings="Annotation::rds-cdc-setup:NoVpc",
    )


def plain(value: Any) -> Any:
    """Conditions with Fn::Join / Ref rendered as text, for comparison."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and set(value) & {"Ref", "Fn::GetAtt", "Fn::Join"}:
            return rendered(value)
        return {k: plain(v) for k, v in value.items()}
    return value


def step_roles(synth: Synth) -> dict[str, str]:
    """Task (setup, teardown, fleet) -> the logical id of its function's role, by handler module."""
    roles = {}
    for fn in synth.resources("AWS::Lambda::Function").values():
        module = fn["Properties"]["Handler"].split(".")[2]
        task = "".join(part.title() for part in module.split("_"))
        assert handler_module(task) == module
        assert task not in roles, task  # one function per task across the stack
        roles[task] = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    return roles


def grants(synth: Synth, task: str) -> list[tuple[str, str, Any]]:
    """(action, resource, condition or None) of every statement the task's role holds."""
    found = []
    for statement in role_statements(synth, step_roles(synth)[task]):
        assert statement["Effect"] == "Allow"
        for action in actions_of(statement):
            for resource in resources_of(statement):
                found.append((action, resource, plain(statement.get("Condition"))))
    return found


def holders(synth: Synth, action: str) -> dict[str, list[tuple[str, Any]]]:
    """Task -> [(resource, condition)] of each role granted `action`."""
    found: dict[str, list[tuple[str, Any]]] = {}
    for task in step_roles(synth):
        for granted, resource, condition in grants(synth, task):
            if granted == action:
                found.setdefault(task, []).append((resource, condition))
    return found


def opt_in(synth: Synth, kind: str) -> dict[str, dict[str, str]]:
    key, _, value = synth.config.opt_in_tag.partition("=")
    return {"StringEquals": {f"rds:{kind}-tag/{key}": value}}


def owned(kind: str) -> dict[str, dict[str, str]]:
    return {"StringEquals": {f"rds:{kind}-tag/created-by": "rds-cdc-setup"}}


def test_the_owner_tag_and_secret_prefix_are_the_ones_the_functions_use() -> None:
    assert {permissions.OWNER_TAG_KEY: permissions.OWNER_TAG_VALUE} == {
        ownership.OWNER_TAG_KEY: ownership.OWNER_TAG_VALUE
    }
    assert OWNER == {ownership.OWNER_TAG_KEY: ownership.OWNER_TAG_VALUE}
    assert permissions.SECRET_NAME_PREFIX == "rds-cdc-setup/"
    assert permissions.COPIED_FROM_TAG_KEY == COPIED_FROM_TAG_KEY


def test_reboot_reaches_only_instances_carrying_the_opt_in_tag(synth: Synth) -> None:
    # Then every grant of RebootDBInstance is on instances, with the opt-in tag condition: none without
    assert holders(synth, "rds:RebootDBInstance") == {
        "RebootInstance": [(f"{RDS}db:*", opt_in(synth, "db"))],
        "CheckRebootStatus": [(f"{RDS}db:*", opt_in(synth, "db"))],
    }


def test_attaching_a_group_needs_the_opt_in_tag_on_the_target_and_ownership_of_the_group(synth: Synth) -> None:
    # ModifyDBInstance authorizes the instance and the group: one statement, one condition each
    assert sorted(holders(synth, "rds:ModifyDBInstance").items(), key=str) == sorted(
        {
            "EnsureParameterGroup": [(f"{RDS}pg:*", owned("pg")), (f"{RDS}db:*", opt_in(synth, "db"))],
            # teardown attaches again the group setup replaced (default.<family> or the team's group it
            # copied, any name); attaching changes none of the group's values
            "RevertParameterGroup": [(f"{RDS}pg:*", None), (f"{RDS}db:*", opt_in(synth, "db"))],
            # adding or removing the workflow's security group: VPC security groups are no RDS resource
            "EnsureSecurityGroup": [(f"{RDS}db:*", opt_in(synth, "db"))],
            "DropSecurityGroup": [(f"{RDS}db:*", opt_in(synth, "db"))],
        }.items(),
        key=str,
    )
    modify_cluster = {t: sorted(g, key=str) for t, g in holders(synth, "rds:ModifyDBCluster").items()}
    assert modify_cluster == {
        "EnsureParameterGroup": sorted(
            [(f"{RDS}cluster-pg:*", owned("cluster-pg")), (f"{RDS}cluster:*", opt_in(synth, "cluster"))], key=str
        ),
        "RevertParameterGroup": sorted(
            [(f"{RDS}cluster-pg:*", None), (f"{RDS}cluster:*", opt_in(synth, "cluster"))], key=str
        ),
        "EnsureSecurityGroup": [(f"{RDS}cluster:*", opt_in(synth, "cluster"))],
        "DropSecurityGroup": [(f"{RDS}cluster:*", opt_in(synth, "cluster"))],
    }


OWNED_SECURITY_GROUP = {"StringEquals": {"ec2:ResourceTag/created-by": "rds-cdc-setup"}}


def test_security_groups_are_made_and_tagged_only_with_the_owner_tag_and_changed_only_when_they_carry_it(
    synth: Synth,
) -> None:
    in_request = {
        "StringEquals": {"aws:RequestTag/created-by": "rds-cdc-setup"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["created-by", "rds-cdc-setup:target"]},
    }
    # The VPC side of CreateSecurityGroup takes no tag condition: the group side carries it.
    assert sorted(holders(synth, "ec2:CreateSecurityGroup")["EnsureSecurityGroup"], key=str) == sorted(
        [(f"{EC2}vpc/*", None), (f"{EC2}security-group/*", in_request)], key=str
    )
    assert holders(synth, "ec2:CreateTags") == {"EnsureSecurityGroup": [(f"{EC2}security-group/*", in_request)]}
    for action in ("ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"):
        assert holders(synth, action) == {"EnsureSecurityGroup": [(f"{EC2}security-group/*", OWNED_SECURITY_GROUP)]}
    assert holders(synth, "ec2:DeleteSecurityGroup") == {
        "DropSecurityGroup": [(f"{EC2}security-group/*", OWNED_SECURITY_GROUP)]
    }
    readers = {"DescribeTarget", "EnsureSecurityGroup", "PlanTeardown", "DropSecurityGroup"}
    assert holders(synth, "ec2:DescribeSecurityGroups") == {task: [("*", None)] for task in readers}


def test_parameter_groups_are_changed_only_when_they_carry_the_owner_tag(synth: Synth) -> None:
    assert holders(synth, "rds:ModifyDBParameterGroup") == {"EnsureParameterGroup": [(f"{RDS}pg:*", owned("pg"))]}
    assert holders(synth, "rds:ModifyDBClusterParameterGroup") == {
        "EnsureParameterGroup": [(f"{RDS}cluster-pg:*", owned("cluster-pg"))]
    }


@pytest.mark.parametrize(
    "action",
    [
        "rds:CreateDBParameterGroup",
        "rds:CreateDBClusterParameterGroup",
        "rds:CopyDBParameterGroup",
        "rds:CopyDBClusterParameterGroup",
        "rds:AddTagsToResource",
    ],
)
def test_groups_are_created_copied_and_tagged_only_with_the_owner_tag_in_the_request(synth: Synth, action: str) -> None:
    [(task, granted)] = holders(synth, action).items()
    assert task == "EnsureParameterGroup"
    kinds = (
        {"pg", "cluster-pg"} if action == "rds:AddTagsToResource" else {"cluster-pg" if "Cluster" in action else "pg"}
    )
    assert sorted(granted, key=str) == sorted(((f"{RDS}{kind}:*", GROUP_TAGS_IN_REQUEST) for kind in kinds), key=str)


def test_no_other_step_holds_an_rds_write(synth: Synth) -> None:
    # The trigger, the fleet and every other step only describe and read tags
    writers = {"EnsureParameterGroup", "RebootInstance", "CheckRebootStatus", "RevertParameterGroup"}
    writers |= {"EnsureSecurityGroup", "DropSecurityGroup"}  # ModifyDBInstance/Cluster: their security groups
    for task in step_roles(synth):
        writes = {
            a
            for a, _, _ in grants(synth, task)
            if a.startswith("rds:") and not a.startswith(("rds:Describe", "rds:List"))
        }
        assert bool(writes) == (task in writers), (task, writes)


def test_master_secrets_default_to_those_rds_manages_plus_the_listed_ones(synth: Synth) -> None:
    readers = holders(synth, "secretsmanager:GetSecretValue")
    listed = list(synth.config.master_secret_arns)
    master = {"StringEquals": {"secretsmanager:ResourceTag/aws:secretsmanager:owningService": "rds"}}
    for task in MASTER_READERS:
        master_grants = [(r, c) for r, c in readers[task] if not r.startswith(f"{SECRETS}rds-cdc-setup/")]
        assert sorted(master_grants, key=str) == sorted(
            [(f"{SECRETS}rds!*", master), *((arn, None) for arn in listed)], key=str
        ), task
        [decrypt] = [c for a, r, c in grants(synth, task) if a == "kms:Decrypt" and r.endswith(":key/*")]
        assert decrypt["StringEquals"] == {"kms:ViaService": "secretsmanager.${AWS::Region}.amazonaws.com"}
        assert sorted(decrypt["StringLike"]["kms:EncryptionContext:SecretARN"]) == sorted([f"{SECRETS}rds!*", *listed])
    # Nobody else reads a master secret, nor decrypts with any key of the account; RegisterSource reads the
    # Streamkap API credentials, only under streamkap-api/, and decrypts only for those secrets.
    api = f"{SECRETS}streamkap-api/*"
    for task, granted in readers.items():
        if task not in MASTER_READERS:
            expected = {f"{SECRETS}rds-cdc-setup/*"} | ({api} if task == "RegisterSource" else set())
            assert {r for r, _ in granted} == expected, task
    for task in set(step_roles(synth)) - MASTER_READERS:
        decrypts = [c for a, r, c in grants(synth, task) if r.endswith(":key/*")]
        if task == "RegisterSource":
            [decrypt] = decrypts
            assert decrypt["StringLike"] == {"kms:EncryptionContext:SecretARN": api}, decrypt
        else:
            assert not decrypts, task


def test_verify_reads_its_own_secret_and_no_master_secret(synth: Synth) -> None:
    granted = grants(synth, "Verify")
    secrets = [(a, r, c) for a, r, c in granted if a.startswith("secretsmanager:")]
    assert secrets == [
        (
            "secretsmanager:GetSecretValue",
            f"{SECRETS}rds-cdc-setup/*",
            {"StringEquals": {"secretsmanager:ResourceTag/created-by": "rds-cdc-setup"}},
        )
    ]
    for _, resource, _ in granted:
        assert "secret:rds!" not in resource and resource not in synth.config.master_secret_arns
        assert not resource.endswith((":key/*", "secret:*"))
    [(_, key, _)] = [g for g in granted if g[0] == "kms:Decrypt"]
    assert key.startswith("${WorkflowKey")


def test_the_workflows_own_secrets_are_read_and_deleted_only_with_the_owner_tag(synth: Synth) -> None:
    own = f"{SECRETS}rds-cdc-setup/*"
    tagged = {"StringEquals": {"secretsmanager:ResourceTag/created-by": "rds-cdc-setup"}}
    for task, granted in holders(synth, "secretsmanager:GetSecretValue").items():
        assert [c for r, c in granted if r == own] in ([], [tagged]), task
    assert holders(synth, "secretsmanager:DeleteSecret") == {"DropUser": [(own, tagged)]}
    # Described without the tag condition: a foreign secret at the name must be seen to be refused
    # RegisterSource reads the source-id tag it left on the CDC user's secret (its ownership marker).
    assert holders(synth, "secretsmanager:DescribeSecret") == {
        task: [(own, None)]
        for task in (
            "Preflight",
            "ConfigureDatabase",
            "RegisterSource",
            "PlanTeardown",
            "DropUser",
            "CheckDatabase",
            "RepairTarget",
        )
    }


def test_the_cdc_users_secret_is_created_only_with_the_owner_tag_and_the_workflows_key(synth: Synth) -> None:
    [(key_id, _)] = synth.workflow("AWS::KMS::Key").items()
    # ConfigureDatabase, and the check's RepairTarget, which runs its code
    creators = holders(synth, "secretsmanager:CreateSecret")
    assert sorted(creators) == ["ConfigureDatabase", "RepairTarget"]
    assert creators["RepairTarget"] == creators["ConfigureDatabase"]
    [(resource, condition)] = creators["ConfigureDatabase"]
    assert resource == f"{SECRETS}rds-cdc-setup/*"
    assert condition == {
        "StringEquals": {
            "aws:RequestTag/created-by": "rds-cdc-setup",
            "secretsmanager:KmsKeyArn": f"${{{key_id}.Arn}}",
        },
        "ForAllValues:StringEquals": {"aws:TagKeys": ["created-by"]},
    }
    # RegisterSource tags only the workflow's own secrets, and only with the source id.
    source_tag = {
        "StringEquals": {"secretsmanager:ResourceTag/created-by": "rds-cdc-setup"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["streamkap-source-id"]},
    }
    assert holders(synth, "secretsmanager:TagResource") == {
        "ConfigureDatabase": [(f"{SECRETS}rds-cdc-setup/*", OWNER_IN_REQUEST)],
        "RepairTarget": [(f"{SECRETS}rds-cdc-setup/*", OWNER_IN_REQUEST)],
        "RegisterSource": [(f"{SECRETS}rds-cdc-setup/*", source_tag)],
    }


def test_target_scope_account_widens_targets_only_and_synth_warns(widened: Synth, default: Synth) -> None:
    assert holders(widened, "rds:RebootDBInstance") == {
        "RebootInstance": [(f"{RDS}db:*", None)],
        "CheckRebootStatus": [(f"{RDS}db:*", None)],
    }
    assert (f"{RDS}cluster:*", None) in holders(widened, "rds:ModifyDBCluster")["EnsureParameterGroup"]
    # The groups stay the workflow's own
    assert (f"{RDS}pg:*", owned("pg")) in holders(widened, "rds:ModifyDBInstance")["EnsureParameterGroup"]
    assert holders(widened, "rds:ModifyDBParameterGroup") == {"EnsureParameterGroup": [(f"{RDS}pg:*", owned("pg"))]}
    warning = Match.string_like_regexp("target_scope=account: .* -c acknowledged_warnings=rds-cdc-setup:AccountWide")
    Annotations.from_stack(widened.stack).has_warning("*", warning)
    Annotations.from_stack(default.stack).has_no_warning("*", warning)


def test_a_warning_the_context_acknowledges_is_not_printed(widened: Synth, default: Synth) -> None:
    # Without vpc_id both warn; the widened stack's context acknowledges it (CDK's Annotations.acknowledge_warning)
    assert widened.config.vpc_id is default.config.vpc_id is None
    no_vpc = "No vpc_id in context: .* Acknowledge it: -c acknowledged_warnings=rds-cdc-setup:NoVpc "
    Annotations.from_stack(default.stack).has_warning("*", Match.string_like_regexp(no_vpc))
    Annotations.from_stack(widened.stack).has_no_warning("*", Match.string_like_regexp("No vpc_id"))


def test_master_secret_scope_tagged_reads_only_secrets_carrying_the_opt_in_tag(widened: Synth) -> None:
    for task in MASTER_READERS:
        masters = [g for g in holders(widened, "secretsmanager:GetSecretValue")[task] if "rds-cdc-setup/" not in g[0]]
        assert masters == [(f"{SECRETS}*", {"StringEquals": {"secretsmanager:ResourceTag/cdc": "on"}})], task


def test_master_secret_scope_listed_reads_only_the_listed_secrets(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'listed' needs 'master_secret_arns'"):
        CdcSetupConfig(master_secret_scope="listed")
    pattern = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-*"
    stack = Stack(App(outdir=str(tmp_path)), "Probe")
    grant = master_secrets(Scope(master_secret_scope="listed", master_secret_arns=[OWN_MASTER_SECRET, pattern]))
    managed_policy(stack, "Master", "master secrets", grant)
    [policy] = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy").values()
    statements = plain(policy["Properties"]["PolicyDocument"]["Statement"])
    read = [s for s in statements if s["Action"] == "secretsmanager:GetSecretValue"]
    assert read == [
        {"Action": "secretsmanager:GetSecretValue", "Effect": "Allow", "Resource": [OWN_MASTER_SECRET, pattern]}
    ]
    [decrypt] = [s for s in statements if s["Action"] == "kms:Decrypt"]
    assert decrypt["Condition"]["StringLike"] == {"kms:EncryptionContext:SecretARN": [OWN_MASTER_SECRET, pattern]}
    # The configured pattern is acknowledged with its reason, by its literal ARN
    acknowledged = json.dumps([m.data for c in stack.node.find_all() for m in c.node.metadata])
    assert f"AwsSolutions-IAM5[Resource::{pattern}]" in acknowledged
