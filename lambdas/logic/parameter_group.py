"""EnsureParameterGroup: logical replication on, sender timeout off, on a group the workflow owns.

The workflow changes only parameter groups carrying its owner tag (lambdas/shared/ownership.py),
and only when no other instance or cluster uses them:
- on a `default.*` group (AWS lets no one edit it) it creates `<id>-streamkap-cdc` and attaches it;
- on its own group, used by this target alone, it sets the parameters in place;
- on someone else's group, or its own group shared with another instance or cluster, it copies the
  group (the copy keeps the user-set values) to `<id>-streamkap-cdc`, sets the parameters in the
  copy and attaches it: the other holders keep their group untouched;
- a `<id>-streamkap-cdc` that is not the workflow's is refused (NotOwned) unless `adopt` lists
  "parameter_group": then it is tagged as the workflow's and used.
A group that already holds the required values is left as it is, whoever owns it.

The reboot applies every static change pending on the attached group. Pending changes on a group
that is not the workflow's were made by someone else: the plan says so, and the run refuses
(before any change) unless `adopt` lists "pending_changes".

Aurora: both parameters go into the cluster parameter group. rds.logical_replication exists only
there; wal_sender_timeout is offered there too, and a cluster-level value reaches every instance of
the cluster, including whichever becomes the writer after a failover (an instance-level group would
have to be set on each instance, and a new writer without it would time the connector out)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from lambdas.dal.rds import InstanceInfo, Rds
from lambdas.shared.errors import InvalidInput, NotOwned
from lambdas.shared.ownership import OWNER_TAG_KEY, OWNER_TAG_VALUE

# name -> (value, apply method). rds.logical_replication is static: it needs a reboot.
REQUIRED_PARAMETERS = {
    "rds.logical_replication": ("1", "pending-reboot"),
    "wal_sender_timeout": ("0", "immediate"),
}
STATIC_PARAMETERS = {"rds.logical_replication"}
# The optional guard: a slot holding back more WAL (MB) than this is invalidated. PG13+, dynamic.
WAL_KEEP_PARAMETER = "max_slot_wal_keep_size"
WAL_KEEP_MIN_MAJOR = 13
OWNER = f"{OWNER_TAG_KEY}={OWNER_TAG_VALUE}"


def required_parameters(instance: InstanceInfo, max_slot_wal_keep_size_mb: int | None) -> dict[str, tuple[str, str]]:
    if max_slot_wal_keep_size_mb is None:
        return REQUIRED_PARAMETERS
    major = int(instance.engine_version.partition(".")[0])  # DescribeTarget has checked it parses
    if major < WAL_KEEP_MIN_MAJOR:
        raise InvalidInput(
            f"max_slot_wal_keep_size_mb needs PostgreSQL {WAL_KEEP_MIN_MAJOR}+; instance {instance.instance_id} "
            f"runs {instance.engine_version}: leave it null"
        )
    return {**REQUIRED_PARAMETERS, WAL_KEEP_PARAMETER: (str(max_slot_wal_keep_size_mb), "immediate")}


def is_default_group(name: str) -> bool:
    return name.startswith("default.")  # AWS refuses to modify these


def is_owned(tags: dict[str, str] | None) -> bool:
    """A group's tags (None: no such group) carry the workflow's owner tag."""
    return tags is not None and tags.get(OWNER_TAG_KEY) == OWNER_TAG_VALUE


def custom_group_name(instance_id: str) -> str:
    """The group made for an instance, or for an Aurora cluster (named after the cluster)."""
    return f"{instance_id.lower()}-streamkap-cdc"


def holder(instance: InstanceInfo) -> str:
    """What the group is attached to, as the plan and changes say it."""
    return f"cluster {instance.cluster_id}" if instance.cluster_id else f"instance {instance.instance_id}"


def group_kind(cluster: bool) -> str:
    return "cluster parameter group" if cluster else "parameter group"


@dataclass(frozen=True)
class ParameterPlan:
    group: str  # the group that will hold the parameters
    cluster: bool  # an Aurora cluster parameter group
    parameters: dict[str, tuple[str, str]]  # the ones to change
    create_group: bool = False
    copy_from: str | None = None  # create `group` as a copy of this group
    copy_reason: str = ""  # why the attached group is copied instead of changed
    adopt_group: bool = False  # tag the existing `group` as the workflow's (adopt: parameter_group)
    attach_group: bool = False
    pending_group: str | None = None  # changes pending a reboot on this group were not made by the workflow
    reboots: bool = True  # the run may reboot (reboot != "never")
    refusals: tuple[str, ...] = ()  # why a run must stop before changing anything (NotOwned)

    def actions(self, attached_to: str, family: str) -> list[str]:
        """What applying the plan changes. `attached_to`: holder(instance), e.g. "instance orders-prod"."""
        kind = group_kind(self.cluster)
        lines = []
        if self.adopt_group:
            lines.append(f"adopt {kind} {self.group}: tag it {OWNER} (it exists without the workflow's tag)")
        if self.copy_from:
            lines.append(f"copy {kind} {self.copy_from} to {self.group} ({self.copy_reason}; it stays as it is)")
        elif self.create_group:
            lines.append(f"create {kind} {self.group} (family {family})")
        lines += [f"set {name}={value} in {kind} {self.group}" for name, (value, _) in self.parameters.items()]
        if self.attach_group:
            lines.append(f"attach {kind} {self.group} to {attached_to}")
        return lines

    def describe(self, attached_to: str, family: str) -> list[str]:
        """The plan as DescribeTarget, Preflight and a dry run show it: actions, then what the reboot
        brings along, then each refusal a real run would stop at."""
        lines = self.actions(attached_to, family)
        if self.pending_group:
            kind = group_kind(self.cluster)
            lines.append(
                f"the reboot also applies parameter changes already pending on {kind} {self.pending_group}, "
                "not made by this workflow"
                if self.reboots
                else f"parameter changes already pending on {kind} {self.pending_group}, not made by this "
                f"workflow, wait for the next reboot of {attached_to}"
            )
        return lines + [f"refused (a real run stops here): {refusal}" for refusal in self.refusals]

    def refuse(self) -> None:
        if self.refusals:
            raise NotOwned(" ".join(self.refusals))

    @property
    def needs_reboot(self) -> bool:
        return self.attach_group or any(name in STATIC_PARAMETERS for name in self.parameters)


def _missing(rds: Rds, group: str, required: dict[str, tuple[str, str]], cluster: bool) -> dict[str, tuple[str, str]]:
    current = rds.user_parameters(group, set(required), cluster=cluster)
    return {name: spec for name, spec in required.items() if current.get(name) != spec[0]}


def _not_ours(kind: str, group: str, use: str) -> str:
    return (
        f"{kind} {group} exists and was not created by this workflow (it has no {OWNER} tag); the run would "
        f'{use}. Rename or delete it, or pass adopt: ["parameter_group"] to tag it as the workflow\'s and use it.'
    )


def _shared_own(kind: str, group: str, others: list[str]) -> str:
    return (
        f"{kind} {group} is the workflow's but is also attached to {', '.join(others)}; changing it would "
        "change them too. Attach another group to them first."
    )


def plan_parameter_group(
    rds: Rds,
    instance: InstanceInfo,
    max_slot_wal_keep_size_mb: int | None = None,
    *,
    adopt: Collection[str] = (),
    reboots: bool = True,
) -> ParameterPlan:
    """Reads only. `adopt`: the input's adopt kinds; `reboots`: the run may reboot the instance."""
    required = required_parameters(instance, max_slot_wal_keep_size_mb)
    cluster = instance.cluster_id is not None
    kind = group_kind(cluster)
    me = holder(instance)
    attached = instance.parameter_group
    mine = custom_group_name(instance.cluster_id or instance.instance_id)
    default = is_default_group(attached)
    attached_ours = not default and is_owned(rds.parameter_group_tags(attached, cluster=cluster))

    # A default group holds no one's edits (AWS refuses them) and is replaced by the workflow's own group.
    foreign_pending = instance.parameter_apply_status == "pending-reboot" and not default and not attached_ours
    refusals: list[str] = []
    if foreign_pending and reboots and "pending_changes" not in adopt:
        refusals.append(
            f"{me} has parameter changes pending a reboot on {kind} {attached}, which this workflow did not "
            "make; its reboot would apply them. Reboot the instance yourself first, or pass "
            'adopt: ["pending_changes"] to let the workflow\'s reboot apply them.'
        )

    def plan(group: str, parameters: dict[str, tuple[str, str]], **how: object) -> ParameterPlan:
        return ParameterPlan(
            group=group,
            cluster=cluster,
            parameters=parameters,
            pending_group=attached if foreign_pending else None,
            reboots=reboots,
            refusals=tuple(refusals),
            **how,  # type: ignore[arg-type]
        )

    source: str | None = None
    reason = ""
    to_set: dict[str, tuple[str, str]] = {}
    if not default:
        to_set = _missing(rds, attached, required, cluster)
        if not to_set:
            return plan(attached, {})  # already set, whoever owns it: nothing to change
        others = [h for h in rds.parameter_group_holders(attached, cluster=cluster) if h != me]
        if attached_ours and not others:
            return plan(attached, to_set)
        if attached.lower() == mine:  # named like the workflow's, but someone else's, or shared
            if others:
                refusals.append(_shared_own(kind, attached, others))
                return plan(attached, {})
            if "parameter_group" not in adopt:
                refusals.append(_not_ours(kind, attached, f"set {', '.join(to_set)} in it"))
                return plan(attached, {})
            return plan(attached, to_set, adopt_group=True)
        source = attached
        reason = f"shared with {', '.join(others)}" if others else f"{attached} is not the workflow's"

    mine_tags = rds.parameter_group_tags(mine, cluster=cluster)
    if mine_tags is None:
        if source is None:
            return plan(mine, dict(required), create_group=True, attach_group=True)
        return plan(mine, to_set, copy_from=source, copy_reason=reason, attach_group=True)
    # it exists already: made by an earlier run that stopped before attaching it, or someone else's
    mine_others = [h for h in rds.parameter_group_holders(mine, cluster=cluster) if h != me]
    if mine_others:
        refusals.append(_shared_own(kind, mine, mine_others))
        return plan(attached, {})
    adopting = not is_owned(mine_tags)
    if adopting and "parameter_group" not in adopt:
        use = f"copy {source} to it" if source else "use it"
        refusals.append(_not_ours(kind, mine, f"{use} and attach it to {me}"))
        return plan(attached, {})
    return plan(mine, _missing(rds, mine, required, cluster), adopt_group=adopting, attach_group=True)


def ensure_parameter_group(
    rds: Rds,
    instance: InstanceInfo,
    family: str,
    max_slot_wal_keep_size_mb: int | None = None,
    *,
    adopt: Collection[str] = (),
    reboots: bool = True,
) -> tuple[list[str], bool]:
    """Apply the plan; returns (changes, whether a reboot is needed for them to take effect).
    Raises NotOwned, before any change, where the plan refuses."""
    plan = plan_parameter_group(rds, instance, max_slot_wal_keep_size_mb, adopt=adopt, reboots=reboots)
    plan.refuse()
    where = holder(instance)
    changes = plan.actions(where, family)
    if plan.adopt_group:
        rds.tag_parameter_group(plan.group, cluster=plan.cluster)
    if plan.copy_from:
        rds.copy_parameter_group(
            source=plan.copy_from,
            group=plan.group,
            description=f"{plan.copy_from} with logical replication for Streamkap CDC on {where} (rds-cdc-setup)",
            cluster=plan.cluster,
        )
    elif plan.create_group:
        rds.create_parameter_group(
            group=plan.group,
            family=family,
            description=f"Logical replication for Streamkap CDC on {where} (rds-cdc-setup)",
            cluster=plan.cluster,
        )
    if plan.parameters:
        rds.set_parameters(plan.group, plan.parameters, cluster=plan.cluster)
    if plan.attach_group:
        rds.attach_parameter_group(instance.instance_id, plan.group, cluster_id=instance.cluster_id)
    return changes, plan.needs_reboot
