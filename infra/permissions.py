"""What the workflows may touch, as IAM statements: only opted-in targets, only the parameter
groups and secrets the workflow created, only the master secrets the deployment allows.

IAM evaluates a statement's condition against every resource the statement names, and one API
call can touch several resources (attaching a parameter group is ModifyDBInstance on the
instance AND on the group). So each resource kind gets its own statement with its own condition:
the instance side needs the opt-in tag, the group side the workflow's owner tag.

The setup (infra/workflow.py) and teardown (infra/teardown.py) workflows build their policies
from these grants; each grant also names the wildcard resources it uses, with the reason, for the
cdk-nag acknowledgement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import MASTER_SECRET_SCOPES, TARGET_SCOPES
from infra.functions import acknowledge, acknowledge_wildcard, arn
from lambdas.shared.names import (
    ALARM_NAME_PREFIX,
    CHECK_METRICS_NAMESPACE,
    DEFAULT_OPT_IN_TAG,
    SECRET_NAME_PREFIX,
    STREAMKAP_API_SECRET_PREFIX,
    STREAMKAP_SOURCE_TAG_KEY,
)

# As lambdas/shared/ownership.py marks what the workflow creates (tests/infra assert they agree).
OWNER_TAG_KEY = "created-by"
OWNER_TAG_VALUE = "rds-cdc-setup"
COPIED_FROM_TAG_KEY = "rds-cdc-setup:copied-from"  # as lambdas/dal/rds.py tags a copied parameter group
TARGET_TAG_KEY = "rds-cdc-setup:target"  # as lambdas/dal/security_groups.py tags the allow_cidrs group
# SECRET_NAME_PREFIX and ALARM_NAME_PREFIX: as the steps name secrets and alarms (lambdas/shared/names.py).
OWN_ALARMS = f"alarm:{ALARM_NAME_PREFIX}*"

DB, CLUSTER = "db:*", "cluster:*"
PG, CLUSTER_PG = "pg:*", "cluster-pg:*"
SECURITY_GROUPS, VPCS = "security-group/*", "vpc/*"
MASTER_SECRETS = "secret:rds!*"  # RDS names the master secrets it manages rds!db-<uuid> / rds!cluster-<uuid>
OWN_SECRETS = f"secret:{SECRET_NAME_PREFIX}*"
ANY_SECRET = "secret:*"  # noqa: S105 - an ARN pattern
STREAMKAP_API_SECRETS = f"secret:{STREAMKAP_API_SECRET_PREFIX}*"
ANY_KEY = "key/*"
# Secrets Manager sets this tag on the secrets a service manages; RDS's are "rds".
OWNING_SERVICE_TAG = "aws:secretsmanager:owningService"

Wildcard = tuple[str, str, str]  # (service, resource, reason): a cdk-nag IAM5 acknowledgement
LITERAL = ""  # a Wildcard's service when its resource is a whole configured ARN pattern


@dataclass(frozen=True)
class Grant:
    statements: list[iam.PolicyStatement] = field(default_factory=list)
    wildcards: list[Wildcard] = field(default_factory=list)

    def __add__(self, other: Grant) -> Grant:
        # One acknowledgement per resource: the first grant's reason.
        seen = {(service, resource) for service, resource, _ in self.wildcards}
        wildcards = self.wildcards + [w for w in other.wildcards if (w[0], w[1]) not in seen]
        return Grant(self.statements + other.statements, wildcards)


@dataclass(frozen=True, kw_only=True)
class Scope:
    """The deployment's choices (infra/config.py): the opt-in tag, and how wide targets and
    master secrets reach."""

    opt_in_tag: str = DEFAULT_OPT_IN_TAG
    target_scope: str = TARGET_SCOPES[0]
    master_secret_scope: str = MASTER_SECRET_SCOPES[0]
    master_secret_arns: Sequence[str] = ()

    @property
    def opt_in(self) -> tuple[str, str]:
        key, _, value = self.opt_in_tag.partition("=")
        return key, value

    @property
    def account_wide(self) -> bool:
        return self.target_scope == "account"


def _owned(kind: str) -> dict[str, dict[str, str]]:
    """rds:pg-tag/created-by = rds-cdc-setup (kind pg), rds:cluster-pg-tag/... (kind cluster-pg)."""
    return {"StringEquals": {f"rds:{kind}-tag/{OWNER_TAG_KEY}": OWNER_TAG_VALUE}}


# In the request: the owner tag and no other (creating or adopting a secret).
OWNER_TAG_IN_REQUEST = {
    "StringEquals": {f"aws:RequestTag/{OWNER_TAG_KEY}": OWNER_TAG_VALUE},
    "ForAllValues:StringEquals": {"aws:TagKeys": [OWNER_TAG_KEY]},
}
# A parameter group's: the owner tag, and besides it at most the group a copy was made from
# (which teardown attaches again): a create, a copy, or adopting an existing group.
GROUP_TAGS_IN_REQUEST = {
    "StringEquals": {f"aws:RequestTag/{OWNER_TAG_KEY}": OWNER_TAG_VALUE},
    "ForAllValues:StringEquals": {"aws:TagKeys": [OWNER_TAG_KEY, COPIED_FROM_TAG_KEY]},
}
OWNED_SECRET = {"StringEquals": {f"secretsmanager:ResourceTag/{OWNER_TAG_KEY}": OWNER_TAG_VALUE}}
# A security group's: the owner tag, and besides it at most the target it admits Streamkap to (creating
# or adopting the group); changing or deleting one needs the owner tag on it.
SECURITY_GROUP_TAGS_IN_REQUEST = {
    "StringEquals": {f"aws:RequestTag/{OWNER_TAG_KEY}": OWNER_TAG_VALUE},
    "ForAllValues:StringEquals": {"aws:TagKeys": [OWNER_TAG_KEY, TARGET_TAG_KEY]},
}
OWNED_SECURITY_GROUP = {"StringEquals": {f"ec2:ResourceTag/{OWNER_TAG_KEY}": OWNER_TAG_VALUE}}


def via_secrets_manager() -> dict[str, str]:
    return {"kms:ViaService": f"secretsmanager.{Aws.REGION}.amazonaws.com"}


def target_change(scope: Scope, instance_actions: list[str], cluster_actions: list[str]) -> Grant:
    """Actions on the target instance (its Aurora writer) and cluster: only those carrying the
    opt-in tag, unless the deployment widened target_scope to the account."""
    key, value = scope.opt_in
    statements, wildcards = [], []
    for actions, kind, resource in ((instance_actions, "db", DB), (cluster_actions, "cluster", CLUSTER)):
        if not actions:
            continue
        if scope.account_wide:
            statements.append(iam.PolicyStatement(actions=actions, resources=[arn("rds", resource)]))
            reason = "target_scope=account: the deployment chose every instance and cluster (synth warns)."
        else:
            statements.append(
                iam.PolicyStatement(
                    actions=actions,
                    resources=[arn("rds", resource)],
                    conditions={"StringEquals": {f"rds:{kind}-tag/{key}": value}},
                )
            )
            reason = f"Only targets tagged {scope.opt_in_tag} (rds:{kind}-tag condition); the target is input."
        wildcards.append(("rds", resource, reason))
    return Grant(statements, wildcards)


def read_targets(*, parameters: bool = True, tags: str = "all") -> Grant:
    """Describe instances, clusters and their parameter groups: read only. `parameters`: the groups'
    parameter values too (setup plans them). `tags`: ListTagsForResource on all four ("all"), on the
    parameter groups only ("groups": whose is the group, for teardown), or nowhere ("none")."""
    on_targets = ["rds:ListTagsForResource"] if tags == "all" else []
    on_groups = ["rds:ListTagsForResource"] if tags in ("all", "groups") else []
    return Grant(
        [
            iam.PolicyStatement(actions=["rds:DescribeDBInstances", *on_targets], resources=[arn("rds", DB)]),
            iam.PolicyStatement(actions=["rds:DescribeDBClusters", *on_targets], resources=[arn("rds", CLUSTER)]),
            iam.PolicyStatement(
                actions=[
                    "rds:DescribeDBParameterGroups",
                    *(["rds:DescribeDBParameters"] if parameters else []),
                    *on_groups,
                ],
                resources=[arn("rds", PG)],
            ),
            iam.PolicyStatement(
                actions=[
                    "rds:DescribeDBClusterParameterGroups",
                    *(["rds:DescribeDBClusterParameters"] if parameters else []),
                    *on_groups,
                ],
                resources=[arn("rds", CLUSTER_PG)],
            ),
        ],
        [
            ("rds", DB, "Read only: the target instance is execution input; this account and region."),
            ("rds", CLUSTER, "Read only: the target Aurora cluster is execution input; this account and region."),
            ("rds", PG, "Read only: which group the target uses, who owns it, who shares it."),
            ("rds", CLUSTER_PG, "Read only: which cluster group the target uses, who owns it."),
        ],
    )


def read_instances() -> Grant:
    """The status of an instance, or of an Aurora cluster and its writer."""
    return Grant(
        [
            iam.PolicyStatement(actions=["rds:DescribeDBInstances"], resources=[arn("rds", DB)]),
            iam.PolicyStatement(actions=["rds:DescribeDBClusters"], resources=[arn("rds", CLUSTER)]),
        ],
        [
            ("rds", DB, "Read only: the target instance is execution input; this account and region."),
            ("rds", CLUSTER, "Read only: the target Aurora cluster is execution input; this account and region."),
        ],
    )


def own_parameter_groups(scope: Scope) -> Grant:
    """Create (or copy) parameter groups only with the owner tag, change only groups carrying it,
    attach only such a group, and only to an opted-in instance or cluster."""
    statements = []
    for kind, resource, create, copy, modify in (
        ("pg", PG, "rds:CreateDBParameterGroup", "rds:CopyDBParameterGroup", "rds:ModifyDBParameterGroup"),
        (
            "cluster-pg",
            CLUSTER_PG,
            "rds:CreateDBClusterParameterGroup",
            "rds:CopyDBClusterParameterGroup",
            "rds:ModifyDBClusterParameterGroup",
        ),
    ):
        # A copy reads its source and creates the target: the request tag holds for both, and
        # only the owner tag (and a copy's copied-from tag) may be set, also when a group is adopted.
        statements.append(
            iam.PolicyStatement(
                actions=[create, copy, "rds:AddTagsToResource"],
                resources=[arn("rds", resource)],
                conditions=GROUP_TAGS_IN_REQUEST,
            )
        )
        # ModifyDBInstance / ModifyDBCluster: the group side of an attach.
        attach = "rds:ModifyDBInstance" if kind == "pg" else "rds:ModifyDBCluster"
        statements.append(
            iam.PolicyStatement(actions=[modify, attach], resources=[arn("rds", resource)], conditions=_owned(kind))
        )
    grant = Grant(
        statements,
        [
            ("rds", PG, f"Only groups tagged {OWNER_TAG_KEY}={OWNER_TAG_VALUE}, or created with that tag."),
            ("rds", CLUSTER_PG, f"Only cluster groups tagged {OWNER_TAG_KEY}={OWNER_TAG_VALUE}, or created so."),
        ],
    )
    return grant + target_change(scope, ["rds:ModifyDBInstance"], ["rds:ModifyDBCluster"])


def previous_parameter_groups(scope: Scope) -> Grant:
    """Attach again, to an opted-in target, the group setup replaced: the engine's default.<family>
    or the team's group setup copied (its name is on the copy's copied-from tag, any name). On the
    group's side ModifyDBInstance/ModifyDBCluster only lets it be attached; its values stay as
    they are (ModifyDB(Cluster)ParameterGroup is the workflow's own groups' only)."""
    grant = Grant(
        [
            iam.PolicyStatement(actions=["rds:ModifyDBInstance"], resources=[arn("rds", PG)]),
            iam.PolicyStatement(actions=["rds:ModifyDBCluster"], resources=[arn("rds", CLUSTER_PG)]),
        ],
        [
            ("rds", PG, "The group teardown attaches again: default.<family> or the team group setup copied."),
            ("rds", CLUSTER_PG, "The cluster group teardown attaches again: the default or the copied one."),
        ],
    )
    return grant + target_change(scope, ["rds:ModifyDBInstance"], ["rds:ModifyDBCluster"])


def reboot(scope: Scope) -> Grant:
    # An Aurora cluster's writer is an instance: with target_scope=tagged it carries the tag too.
    return target_change(scope, ["rds:RebootDBInstance"], [])


def master_secrets(scope: Scope) -> Grant:
    """GetSecretValue on the master secrets the deployment allows.

    IAM cannot join a secret to its instance's tags: RDS tags the secrets it manages with
    aws:secretsmanager:owningService=rds and aws:rds:primaryDBInstanceArn (or ...ClusterArn),
    but those name the instance, not whether it opted in, and RDS copies an instance's own tags
    to the secret at most when it creates it, never later. So the default, "rds-managed", is the
    narrowest form that still reads every opted-in instance's managed secret: secrets named
    rds!... that Secrets Manager says RDS manages (no user-made secret, whatever its name).
    "tagged" reads only secrets carrying the opt-in tag (the DBA tags the master secret as well
    as the instance); "listed" only master_secret_arns. master_secret_arns (ARNs or patterns)
    are readable under every scope: master secrets not managed by RDS, self-managed servers."""
    key, value = scope.opt_in
    listed = list(scope.master_secret_arns)
    statements, wildcards, patterns = [], [], list(listed)
    if scope.master_secret_scope == "rds-managed":  # noqa: S105
        statements.append(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"],
                resources=[arn("secretsmanager", MASTER_SECRETS)],
                conditions={"StringEquals": {f"secretsmanager:ResourceTag/{OWNING_SERVICE_TAG}": "rds"}},
            )
        )
        wildcards.append(("secretsmanager", MASTER_SECRETS, "Master secrets RDS manages (owningService=rds)."))
        patterns.append(arn("secretsmanager", MASTER_SECRETS))
    elif scope.master_secret_scope == "tagged":  # noqa: S105
        statements.append(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"],
                resources=[arn("secretsmanager", ANY_SECRET)],
                conditions={"StringEquals": {f"secretsmanager:ResourceTag/{key}": value}},
            )
        )
        wildcards.append(("secretsmanager", ANY_SECRET, f"Only secrets the DBA tagged {scope.opt_in_tag}."))
        patterns.append(arn("secretsmanager", ANY_SECRET))
    if listed:
        statements.append(iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=listed))
        reason = "A master secret pattern the deployment listed in master_secret_arns."
        wildcards += [(LITERAL, pattern, reason) for pattern in listed if "*" in pattern]
    # The master secret's key is RDS's or the DBA's choice: Decrypt only through Secrets Manager,
    # and only for the secrets above (Secrets Manager passes the secret's ARN as encryption context).
    statements.append(
        iam.PolicyStatement(
            actions=["kms:Decrypt"],
            resources=[arn("kms", ANY_KEY)],
            conditions={
                "StringEquals": via_secrets_manager(),
                "StringLike": {"kms:EncryptionContext:SecretARN": patterns},
            },
        )
    )
    wildcards.append(("kms", ANY_KEY, "Any key may protect a master secret; Decrypt via Secrets Manager only."))
    return Grant(statements, wildcards)


def own_secret_read(key_arn: str) -> Grant:
    """The value of a secret the workflow created (its tag), decrypted with the workflow's key."""
    return Grant(
        [
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"],
                resources=[arn("secretsmanager", OWN_SECRETS)],
                conditions=OWNED_SECRET,
            ),
            iam.PolicyStatement(
                actions=["kms:Decrypt"], resources=[key_arn], conditions={"StringEquals": via_secrets_manager()}
            ),
        ],
        [("secretsmanager", OWN_SECRETS, f"Secrets this workflow created: {SECRET_NAME_PREFIX}<target>/, its tag.")],
    )


def own_secret_describe() -> Grant:
    """Describe any secret under the prefix, without the tag condition: the code must see a
    foreign secret at the workflow's name to refuse it."""
    return Grant(
        [
            iam.PolicyStatement(
                actions=["secretsmanager:DescribeSecret"], resources=[arn("secretsmanager", OWN_SECRETS)]
            )
        ],
        [("secretsmanager", OWN_SECRETS, f"Secrets named {SECRET_NAME_PREFIX}<target>/: seen, to refuse others.")],
    )


def own_secret_create(key_arn: str) -> Grant:
    """Create a secret under the prefix only with the owner tag and the workflow's key; tag one
    (adopting it, on explicit opt-in) only with the owner tag."""
    return own_secret_describe() + Grant(
        [
            iam.PolicyStatement(
                actions=["secretsmanager:CreateSecret"],
                resources=[arn("secretsmanager", OWN_SECRETS)],
                conditions={
                    "StringEquals": {
                        f"aws:RequestTag/{OWNER_TAG_KEY}": OWNER_TAG_VALUE,
                        "secretsmanager:KmsKeyArn": key_arn,
                    },
                    "ForAllValues:StringEquals": {"aws:TagKeys": [OWNER_TAG_KEY]},
                },
            ),
            iam.PolicyStatement(
                actions=["secretsmanager:TagResource"],
                resources=[arn("secretsmanager", OWN_SECRETS)],
                conditions=OWNER_TAG_IN_REQUEST,
            ),
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[key_arn],
                conditions={"StringEquals": via_secrets_manager()},
            ),
        ],
    )


def own_secret_delete() -> Grant:
    return own_secret_describe() + Grant(
        [
            iam.PolicyStatement(
                actions=["secretsmanager:DeleteSecret"],
                resources=[arn("secretsmanager", OWN_SECRETS)],
                conditions=OWNED_SECRET,
            )
        ],
    )


def streamkap_api_secrets() -> Grant:
    """GetSecretValue on the secrets named streamkap-api/... (the input's streamkap_api_secret_arn must be
    one: ValidateInput refuses others by name); the DBA picks their key, so Decrypt through Secrets
    Manager only, on any key, as for master secrets."""
    return Grant(
        [
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"], resources=[arn("secretsmanager", STREAMKAP_API_SECRETS)]
            ),
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[arn("kms", ANY_KEY)],
                conditions={
                    "StringEquals": via_secrets_manager(),
                    "StringLike": {"kms:EncryptionContext:SecretARN": arn("secretsmanager", STREAMKAP_API_SECRETS)},
                },
            ),
        ],
        [
            ("secretsmanager", STREAMKAP_API_SECRETS, f"Streamkap API credentials: {STREAMKAP_API_SECRET_PREFIX}..."),
            ("kms", ANY_KEY, "Any key may protect the API credentials; Decrypt via Secrets Manager, for them only."),
        ],
    )


def own_secret_source_record() -> Grant:
    """Read and set one tag, the Streamkap source id, on the workflow's own secrets (the owner tag)."""
    return own_secret_describe() + Grant(
        [
            iam.PolicyStatement(
                actions=["secretsmanager:TagResource"],
                resources=[arn("secretsmanager", OWN_SECRETS)],
                conditions={
                    **OWNED_SECRET,
                    "ForAllValues:StringEquals": {"aws:TagKeys": [STREAMKAP_SOURCE_TAG_KEY]},
                },
            )
        ],
    )


def own_alarms(actions: list[str]) -> Grant:
    """CloudWatch actions on the workflow's alarms only (alarm ARNs carry the name: the prefix scopes them).
    DeleteAlarms is granted only here, so the teardown can delete no other alarm; an alarm with our name
    someone else made is refused in the code, by its AlarmDescription marker."""
    return Grant(
        [iam.PolicyStatement(actions=actions, resources=[arn("cloudwatch", OWN_ALARMS)])],
        [("cloudwatch", OWN_ALARMS, f"Alarms are named {ALARM_NAME_PREFIX}<instance>-<metric>; instance is input.")],
    )


def finding_metrics() -> Grant:
    """PutMetricData takes no resource; its namespace condition keeps the check to its own metrics."""
    return Grant(
        [
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": CHECK_METRICS_NAMESPACE}},
            )
        ],
        [
            (
                LITERAL,
                "*",
                f"cloudwatch:PutMetricData takes no resource (AWS); only namespace {CHECK_METRICS_NAMESPACE}.",
            )
        ],
    )


def read_security_groups() -> Grant:
    """DescribeSecurityGroups: EC2 supports no resource or condition on its Describe calls."""
    return Grant(
        [iam.PolicyStatement(actions=["ec2:DescribeSecurityGroups"], resources=["*"])],
        [(LITERAL, "*", "ec2:DescribeSecurityGroups takes no resource-level scope (AWS); read only.")],
    )


def own_security_groups(scope: Scope) -> Grant:
    """Create a security group only with the owner tag (in any VPC: the target's is input), tag one
    only with the owner and target tags (as it is created, or adopted), change inbound rules only of a
    group carrying the owner tag; attach it to an opted-in instance or cluster."""
    grant = Grant(
        [
            iam.PolicyStatement(actions=["ec2:CreateSecurityGroup"], resources=[arn("ec2", VPCS)]),
            iam.PolicyStatement(
                actions=["ec2:CreateSecurityGroup", "ec2:CreateTags"],
                resources=[arn("ec2", SECURITY_GROUPS)],
                conditions=SECURITY_GROUP_TAGS_IN_REQUEST,
            ),
            iam.PolicyStatement(
                actions=["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
                resources=[arn("ec2", SECURITY_GROUPS)],
                conditions=OWNED_SECURITY_GROUP,
            ),
        ],
        [
            ("ec2", VPCS, "The group is made in the target's VPC, which is known only at run time."),
            (
                "ec2",
                SECURITY_GROUPS,
                f"Created with, or changed only when carrying, {OWNER_TAG_KEY}={OWNER_TAG_VALUE}.",
            ),
        ],
    )
    return grant + target_change(scope, ["rds:ModifyDBInstance"], ["rds:ModifyDBCluster"])


def own_security_group_delete(scope: Scope) -> Grant:
    """Delete only a group carrying the owner tag; detach it from the opted-in target first."""
    grant = Grant(
        [
            iam.PolicyStatement(
                actions=["ec2:DeleteSecurityGroup"],
                resources=[arn("ec2", SECURITY_GROUPS)],
                conditions=OWNED_SECURITY_GROUP,
            )
        ],
        [("ec2", SECURITY_GROUPS, f"Only groups tagged {OWNER_TAG_KEY}={OWNER_TAG_VALUE} (ec2:ResourceTag).")],
    )
    return grant + target_change(scope, ["rds:ModifyDBInstance"], ["rds:ModifyDBCluster"])


def managed_policy(scope: Construct, construct_id: str, description: str, grant: Grant) -> iam.ManagedPolicy:
    """One customer-managed policy holding the grant, each wildcard acknowledged with its reason."""
    policy = iam.ManagedPolicy(scope, construct_id, description=description, statements=grant.statements)
    for service, resource, reason in grant.wildcards:
        if service == LITERAL:
            acknowledge(policy, f"AwsSolutions-IAM5[Resource::{resource}]", reason)
        else:
            acknowledge_wildcard(policy, service, resource, reason)
    return policy
