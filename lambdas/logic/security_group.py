"""EnsureSecurityGroup and DropSecurityGroup: Streamkap's addresses (allow_cidrs) let in to the database port.

The workflow owns one security group per target, `rds-cdc-setup-<target>-streamkap` in the target's
VPC, tagged created-by=rds-cdc-setup and rds-cdc-setup:target=<target>. Setup converges its inbound
rules to exactly allow_cidrs on the database port: it adds the missing ones (each marked with the
workflow's rule description), revokes the ones it added that are no longer listed, and leaves every
rule it did not add; then it adds the group to the instance's (Aurora: the cluster's) security
groups, keeping every other. A group of that name without both tags is someone else's: refused
(NotOwned) before any change, unless `adopt` lists "security_group". Teardown detaches the group and
deletes it, only when it is the workflow's and holds no rule someone else added (adopt to delete
those too); every other group of the target stays."""

from __future__ import annotations

from dataclasses import dataclass, field

from lambdas.dal.rds import InstanceInfo, Rds
from lambdas.dal.security_groups import GroupInfo, InboundRule, SecurityGroups
from lambdas.logic.parameter_group import holder
from lambdas.shared.cidrs import Rule, is_public, parse_cidr
from lambdas.shared.errors import InvalidInput, NotOwned
from lambdas.shared.models import SecurityGroupResult, SetupInput, Target
from lambdas.shared.names import security_group_name
from lambdas.shared.ownership import marker
from lambdas.shared.teardown_models import TeardownInput


def group_description(target_id: str) -> str:
    return marker(f"Streamkap CDC access to {target_id} (allow_cidrs)")


def desired_rules(cidrs: list[str], port: int) -> list[Rule]:
    return [Rule(cidr=cidr, port=port) for cidr in cidrs]


def rule_diff(desired: list[Rule], existing: tuple[InboundRule, ...]) -> tuple[list[Rule], list[Rule], list[Rule]]:
    """(to add, to revoke, already allowed by a rule the workflow did not add). A desired rule that
    any existing rule already is (ours or not) is not added again (EC2 refuses duplicates); only the
    workflow's own rules that are not desired are revoked."""
    present = [(found.ours, rule) for found in existing if (rule := found.rule) is not None]

    def allowed(rule: Rule, by_ours: bool | None = None) -> bool:
        return any(rule.same_as(other) for ours, other in present if by_ours is None or ours == by_ours)

    add = [rule for rule in desired if not allowed(rule)]
    revoke = [other for ours, other in present if ours and not any(other.same_as(rule) for rule in desired)]
    already = [rule for rule in desired if allowed(rule, by_ours=False) and not allowed(rule, by_ours=True)]
    return add, revoke, already


def unreachable_warning(instance: InstanceInfo, cidrs: list[str]) -> list[str]:
    """A private instance (PubliclyAccessible false) is not reached from internet addresses."""
    public = [cidr for cidr in cidrs if is_public(parse_cidr(cidr))]
    if instance.publicly_accessible is not False or not public:
        return []
    return [
        f"{holder(instance)} is not publicly accessible, so Streamkap cannot reach it from {', '.join(public)} over "
        "the internet: connect Streamkap through an SSH tunnel (bastion) or AWS PrivateLink and list the tunnel's "
        "address in allow_cidrs, or make the instance publicly accessible"
    ]


@dataclass
class AccessPlan:
    """What setup does for allow_cidrs on this target, or why it refuses."""

    name: str
    port: int
    vpc_id: str
    group: GroupInfo | None
    attached: tuple[str, ...]  # the target's security groups now
    adopt: bool = False
    add: list[Rule] = field(default_factory=list)
    revoke: list[Rule] = field(default_factory=list)
    already_allowed: list[Rule] = field(default_factory=list)
    refusal: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def attach(self) -> bool:
        return self.group is None or self.group.group_id not in self.attached

    def describe(self, where: str) -> list[str]:
        if self.refusal:
            return [f"refused (a real run stops here): {self.refusal}"]
        lines = []
        if self.group is None:
            lines.append(f"create security group {self.name} in {self.vpc_id} (tagged created-by=rds-cdc-setup)")
        elif self.adopt:
            lines.append(f"adopt security group {self.name} ({self.group.group_id}): tag it as rds-cdc-setup's")
        lines += [f"allow {rule.cidr} on port {rule.port} in security group {self.name}" for rule in self.add]
        lines += [
            f"revoke {rule.cidr} on port {rule.port} from security group {self.name} (no longer in allow_cidrs)"
            for rule in self.revoke
        ]
        lines += [
            f"{rule.cidr} on port {rule.port} is already allowed by a rule of security group {self.name} that "
            "rds-cdc-setup did not add: left as it is"
            for rule in self.already_allowed
        ]
        if self.attach:
            lines.append(f"add security group {self.name} to {where}, keeping its other groups {list(self.attached)}")
        if len(lines) == 0:
            lines.append(f"security group {self.name} already allows exactly allow_cidrs on port {self.port}")
        return lines + [f"warning: {warning}" for warning in self.warnings]


def plan_access(groups: SecurityGroups, instance: InstanceInfo, setup: SetupInput) -> AccessPlan:
    if setup.allow_cidrs is None:
        raise ValueError("plan_access needs allow_cidrs")
    target_id = setup.target_id
    name = security_group_name(target_id)
    if not instance.vpc_id:
        raise InvalidInput(
            f"{holder(instance)} reports no VPC (no DB subnet group): allow_cidrs needs the VPC its security "
            "groups live in"
        )
    port = instance.port or 5432
    group = groups.find(name, instance.vpc_id)
    plan = AccessPlan(name=name, port=port, vpc_id=instance.vpc_id, group=group, attached=instance.security_group_ids)
    plan.warnings = unreachable_warning(instance, setup.allow_cidrs)
    if group is not None and not group.owned_for(target_id):
        if "security_group" not in setup.adopt:
            plan.refusal = (
                f"Security group {name} ({group.group_id}) in {instance.vpc_id} exists but was not created by "
                f"rds-cdc-setup for {target_id} (it lacks the tags created-by=rds-cdc-setup and "
                f"rds-cdc-setup:target={target_id}), so the workflow will not change it or attach it. Remove or "
                "rename it, or take it over deliberately with adopt: ['security_group'] (its rules stay; a dry run "
                "shows what adopting changes)"
            )
            return plan
        plan.adopt = True
    plan.add, plan.revoke, plan.already_allowed = rule_diff(
        desired_rules(setup.allow_cidrs, port), group.inbound if group else ()
    )
    return plan


def ensure_security_group(rds: Rds, groups: SecurityGroups, target: Target, setup: SetupInput) -> SecurityGroupResult:
    instance = rds.describe_instance(target.instance_id, target.cluster_id)
    plan = plan_access(groups, instance, setup)
    if plan.refusal:
        raise NotOwned(plan.refusal)
    where = holder(instance)
    changes = []
    if plan.group is None:
        group_id = groups.create(
            name=plan.name,
            vpc_id=plan.vpc_id,
            description=group_description(setup.target_id),
            target_id=setup.target_id,
        )
        changes.append(f"created security group {plan.name} ({group_id}) in {plan.vpc_id}")
    else:
        group_id = plan.group.group_id
        if plan.adopt:
            groups.tag(group_id, setup.target_id)
            changes.append(f"adopted security group {plan.name} ({group_id}): tagged as rds-cdc-setup's")
    if plan.add:
        groups.authorize(group_id, plan.add)
        changes += [f"allowed {rule.cidr} on port {rule.port} in security group {plan.name}" for rule in plan.add]
    if plan.revoke:
        groups.revoke(group_id, plan.revoke)
        changes += [f"revoked {rule.cidr} on port {rule.port} from security group {plan.name}" for rule in plan.revoke]
    if plan.attach:
        rds.set_security_groups(
            instance.instance_id, [*instance.security_group_ids, group_id], cluster_id=instance.cluster_id
        )
        kept = f", keeping {list(instance.security_group_ids)}" if instance.security_group_ids else ""
        changes.append(f"added security group {plan.name} to {where}{kept}")
    return SecurityGroupResult(group_name=plan.name, group_id=group_id, changes=changes, warnings=plan.warnings)


# ---- teardown ----------------------------------------------------------------------------------


@dataclass
class RemovalPlan:
    group: GroupInfo | None
    instance: InstanceInfo
    changes: list[str] = field(default_factory=list)

    @property
    def detach(self) -> bool:
        return self.group is not None and self.group.group_id in self.instance.security_group_ids


def plan_removal(rds: Rds, groups: SecurityGroups, t: TeardownInput, target: Target) -> RemovalPlan:
    """The group setup made for the target, detached and deleted; someone else's, or one holding
    rules someone else added, is refused (NotOwned) unless adopt lists security_group."""
    instance = rds.describe_instance(target.instance_id, target.cluster_id)
    name = security_group_name(t.target_id)
    group = groups.find(name, instance.vpc_id) if instance.vpc_id else None
    plan = RemovalPlan(group=group, instance=instance)
    if group is None:
        return plan
    adopting = "security_group" in t.adopt
    if not group.owned_for(t.target_id) and not adopting:
        raise NotOwned(
            f"Security group {name} ({group.group_id}) was not created by rds-cdc-setup for {t.target_id} (it lacks "
            "the tags created-by=rds-cdc-setup and rds-cdc-setup:target), so the teardown will not delete it. "
            "Remove it yourself, or delete it deliberately with adopt: ['security_group']"
        )
    foreign = [rule for rule in group.inbound if not rule.ours]
    if foreign and not adopting:
        raise NotOwned(
            f"Security group {name} ({group.group_id}) holds inbound rules rds-cdc-setup did not add "
            f"({'; '.join(map(str, foreign))}); deleting the group would remove them. Move them to a group of "
            "your own, or delete them with the group deliberately with adopt: ['security_group']"
        )
    if plan.detach:
        remaining = [g for g in instance.security_group_ids if g != group.group_id]
        if not remaining:
            raise InvalidInput(
                f"Security group {name} is the only security group of {holder(instance)}, which needs at least one: "
                "add another group to it, then run the teardown again"
            )
        plan.changes.append(f"remove security group {name} from {holder(instance)}, keeping {remaining}")
    plan.changes.append(f"delete security group {name} ({group.group_id})")
    return plan


def drop_security_group(rds: Rds, groups: SecurityGroups, t: TeardownInput, target: Target) -> list[str]:
    plan = plan_removal(rds, groups, t, target)
    if plan.group is None:
        return []
    if plan.detach:
        remaining = [g for g in plan.instance.security_group_ids if g != plan.group.group_id]
        rds.set_security_groups(plan.instance.instance_id, remaining, cluster_id=plan.instance.cluster_id)
    groups.delete(plan.group.group_id, plan.group.name)
    return plan.changes
