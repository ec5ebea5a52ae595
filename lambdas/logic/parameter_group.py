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

max_slot_wal_keep_size (PostgreSQL 13+, MB, dynamic: no reboot) bounds the WAL a slot holds back:
a connector away for longer than that much WAL loses its slot and needs a new snapshot, instead of
filling the disk. `wal_keep` decides it: the input's value wins (-1: unbounded); unset, a value the
group to be used (the attached one, its copy, or the workflow's own) already holds is kept; else,
on RDS, the default from the allocated storage (lambdas/shared/settings.py). The default is set only
where the workflow creates, copies or owns the group anyway: it is never the reason to copy someone
else's group and attach (and reboot into) the copy. Aurora gets no default: its storage is not
allocated (AllocatedStorage is always 1), the cluster volume grows as needed. Below 13 there is no
such parameter: WAL is unbounded and the slot-lag alarm is the guard. The plan says which applies.

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
from lambdas.shared.models import WAL_KEEP_UNBOUNDED, ParameterGroupResult, SetupInput, Target
from lambdas.shared.ownership import OWNER_TAG_KEY, OWNER_TAG_VALUE
from lambdas.shared.settings import WAL_KEEP_DEFAULT_MAX_MB, WAL_KEEP_DEFAULT_MIN_MB, WAL_KEEP_DEFAULT_PERCENT

# name -> (value, apply method). rds.logical_replication is static: it needs a reboot.
REQUIRED_PARAMETERS = {
    "rds.logical_replication": ("1", "pending-reboot"),
    "wal_sender_timeout": ("0", "immediate"),
}
STATIC_PARAMETERS = {"rds.logical_replication"}
# The WAL guard: a slot holding back more WAL (MB) than this is invalidated. PG13+, dynamic.
WAL_KEEP_PARAMETER = "max_slot_wal_keep_size"
WAL_KEEP_MIN_MAJOR = 13
# PostgreSQL 17 failover slots (input failover_slot). AWS, "Managing logical slot synchronization for
# RDS for PostgreSQL" (RDS User Guide; RDS for PostgreSQL 17+): a slot created with failover on the
# primary is synced to a read replica (a physical standby) whose parameters hold sync_replication_slots=1,
# hot_standby_feedback=1 and rds.logical_slot_sync_dbname naming an existing database (default postgres),
# while synchronized_standby_slots on the primary names that replica's physical slot. The first two go
# into the group: they act on a standby only (the primary ignores them), and a same-Region read replica
# created without a group of its own gets its source's. Both are sighup in PostgreSQL: dynamic, no
# reboot. The last two depend on what only the server shows (its databases, the replicas' physical
# slots), and a synchronized_standby_slots naming a slot that is later dropped stalls the connector:
# Preflight reads them and its plan says what to set (lambdas/logic/preflight.py, standby_plan).
FAILOVER_SLOT_MAJOR = 17
FAILOVER_SLOT_PARAMETERS = {
    "sync_replication_slots": ("1", "immediate"),
    "hot_standby_feedback": ("1", "immediate"),
}


def failover_slot_refusal(major: int, *, aurora: bool) -> str | None:
    """Why failover_slot cannot be honoured on this target (InvalidInput), or None."""
    if aurora:
        return (
            "failover_slot is offered on RDS for PostgreSQL instances and self-managed servers, not Aurora: AWS "
            "documents failover slot synchronisation (sync_replication_slots, a read replica streaming WAL) for "
            "RDS for PostgreSQL 17+, and Aurora's replicas read the cluster volume instead of streaming WAL. "
            "Leave failover_slot false"
        )
    if major < FAILOVER_SLOT_MAJOR:
        return (
            f"failover_slot needs PostgreSQL {FAILOVER_SLOT_MAJOR}+ (a slot's failover property and "
            f"sync_replication_slots came in 17); the server runs {major}: leave failover_slot false, or upgrade "
            "first. A Multi-AZ instance's standby is a storage replica and keeps the slot without it"
        )
    return None


# What a group without a user-set value means (the engine default): such a group needs no change.
ENGINE_DEFAULTS = {WAL_KEEP_PARAMETER: str(WAL_KEEP_UNBOUNDED)}
OWNER = f"{OWNER_TAG_KEY}={OWNER_TAG_VALUE}"


def default_wal_keep_mb(allocated_gib: int) -> int:
    """The default max_slot_wal_keep_size (MB) for an instance with this much allocated storage."""
    share = allocated_gib * 1024 * WAL_KEEP_DEFAULT_PERCENT // 100
    return min(max(share, WAL_KEEP_DEFAULT_MIN_MB), WAL_KEEP_DEFAULT_MAX_MB)


def size(mb: int) -> str:
    return f"{mb // 1024} GiB" if mb % 1024 == 0 else f"{mb} MB"


@dataclass(frozen=True)
class WalKeep:
    """What the run does with max_slot_wal_keep_size, and why."""

    origin: str  # "input" (a value or -1), "default", "none" (no default: Aurora, storage unknown), "absent" (< 13)
    value_mb: int | None = None  # to hold in the group (origin input or default)
    allocated_gib: int | None = None
    max_allocated_gib: int | None = None
    major: int = WAL_KEEP_MIN_MAJOR

    @property
    def parameters(self) -> dict[str, tuple[str, str]]:
        return {} if self.value_mb is None else {WAL_KEEP_PARAMETER: (str(self.value_mb), "immediate")}

    @property
    def soft(self) -> set[str]:
        """Parameters a group's own value wins over: the default."""
        return {WAL_KEEP_PARAMETER} if self.origin == "default" else set()

    @property
    def source(self) -> str:
        """Where a value to set comes from, as the change line says it."""
        if self.origin == "input":
            return "from max_slot_wal_keep_size_mb"
        return f"the default for {self.allocated_gib} GiB of allocated storage"

    def why(self) -> str:
        if self.origin == "input":
            return self.source
        autoscaling = (
            f"; storage autoscaling may grow it to {self.max_allocated_gib} GiB, the bound stays"
            if self.max_allocated_gib and self.allocated_gib and self.max_allocated_gib > self.allocated_gib
            else ""
        )
        return (
            f"{self.source}: {WAL_KEEP_DEFAULT_PERCENT} %, at least "
            f"{size(WAL_KEEP_DEFAULT_MIN_MB)}, at most {size(WAL_KEEP_DEFAULT_MAX_MB)}{autoscaling}; "
            "max_slot_wal_keep_size_mb overrides it, -1 keeps WAL unbounded"
        )


def meaning(value: str) -> str:
    if value == str(WAL_KEEP_UNBOUNDED):
        return (
            "WAL for the slot is unbounded: a connector that never comes back holds WAL until the disk fills; "
            "the slot-lag alarm is the only guard"
        )
    return (
        f"a connector that stays away longer than {size(int(value))} of WAL loses its slot and needs a new "
        "snapshot; the disk stays safe"
    )


def bound_mb(value: str | None) -> int | None:
    """A group's max_slot_wal_keep_size as a bound in MB; None: unbounded (unset, -1) or not a plain
    number of MB (an RDS formula, which the workflow does not evaluate)."""
    try:
        mb = int(value) if value is not None else None
    except ValueError:
        return None
    return mb if mb is not None and mb > 0 else None


def wal_keep_bound(rds: Rds, instance: InstanceInfo) -> int | None:
    """The bound (MB) the group attached to the instance (Aurora: the cluster's) holds now; None:
    unbounded, or PostgreSQL < 13, which has no such parameter. Read from the group, not re-derived
    from the input: a value the DBA set and the workflow kept counts as much as one it set."""
    if int(instance.engine_version.partition(".")[0]) < WAL_KEEP_MIN_MAJOR:
        return None
    cluster = instance.cluster_id is not None
    values = rds.user_parameters(instance.parameter_group, {WAL_KEEP_PARAMETER}, cluster=cluster)
    return bound_mb(values.get(WAL_KEEP_PARAMETER))


def wal_keep(instance: InstanceInfo, requested_mb: int | None) -> WalKeep:
    """The input's max_slot_wal_keep_size_mb (None: unset) on this instance. InvalidInput: a bound
    asked for on PostgreSQL < 13, which has no such parameter."""
    major = int(instance.engine_version.partition(".")[0])  # DescribeTarget has checked it parses
    if major < WAL_KEEP_MIN_MAJOR:
        if requested_mb is not None and requested_mb != WAL_KEEP_UNBOUNDED:
            raise InvalidInput(
                f"max_slot_wal_keep_size_mb needs PostgreSQL {WAL_KEEP_MIN_MAJOR}+; instance {instance.instance_id} "
                f"runs {instance.engine_version}: leave it null"
            )
        return WalKeep("absent", major=major)
    if requested_mb is not None:
        return WalKeep("input", requested_mb, major=major)
    if instance.cluster_id is not None or not instance.allocated_storage_gib:
        return WalKeep("none", major=major)
    return WalKeep(
        "default",
        default_wal_keep_mb(instance.allocated_storage_gib),
        allocated_gib=instance.allocated_storage_gib,
        max_allocated_gib=instance.max_allocated_storage_gib,
        major=major,
    )


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
    wal_keep_note: str = ""  # max_slot_wal_keep_size: the value, where it came from, what it means
    wal_keep_reason: str = ""  # where a max_slot_wal_keep_size being set comes from, for its action line
    wal_keep_mb: int | None = None  # the bound the group holds once the plan is applied (None: unbounded)
    failover_note: str = ""  # failover_slot: what the group's standby-side parameters are for

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
        for name, (value, _) in self.parameters.items():
            why = f" (MB, {self.wal_keep_reason})" if name == WAL_KEEP_PARAMETER and self.wal_keep_reason else ""
            lines.append(f"set {name}={value} in {kind} {self.group}{why}")
        if self.attach_group:
            lines.append(f"attach {kind} {self.group} to {attached_to}")
        return lines

    def describe(self, attached_to: str, family: str) -> list[str]:
        """The plan as DescribeTarget, Preflight and a dry run show it: actions, the line on
        max_slot_wal_keep_size, then what the reboot brings along, then each refusal a real run would stop at."""
        lines = self.actions(attached_to, family)
        if self.wal_keep_note:
            lines.append(self.wal_keep_note)
        if self.failover_note:
            lines.append(self.failover_note)
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


def _needed(
    current: dict[str, str], required: dict[str, tuple[str, str]], soft: Collection[str] = ()
) -> dict[str, tuple[str, str]]:
    """The required parameters a group with these user-set values lacks. A parameter in `soft` (the
    default max_slot_wal_keep_size) is never needed where the group has a value of its own."""
    return {
        name: spec
        for name, spec in required.items()
        if current.get(name, ENGINE_DEFAULTS.get(name)) != spec[0] and not (name in soft and name in current)
    }


def _missing(
    rds: Rds, group: str, required: dict[str, tuple[str, str]], cluster: bool, soft: Collection[str] = ()
) -> dict[str, tuple[str, str]]:
    return _needed(rds.user_parameters(group, set(required), cluster=cluster), required, soft)


def _wal_keep_current(
    rds: Rds, choice: WalKeep, parameters: dict[str, tuple[str, str]], cluster: bool, values_of: str | None
) -> str | None:
    """The max_slot_wal_keep_size the group will hold without being set by the plan: that of
    `values_of`, the existing group whose user-set values it has (None: a new group)."""
    if choice.origin == "absent" or WAL_KEEP_PARAMETER in parameters:
        return None
    if values_of is None or is_default_group(values_of):  # a default group holds no user value
        return None
    return rds.user_parameters(values_of, {WAL_KEEP_PARAMETER}, cluster=cluster).get(WAL_KEEP_PARAMETER)


def _wal_keep_note(
    choice: WalKeep,
    group: str,
    parameters: dict[str, tuple[str, str]],
    cluster: bool,
    values_of: str | None,
    current: str | None,
) -> str:
    """The plan's line on max_slot_wal_keep_size for the group that will hold the parameters;
    `values_of`: the existing group whose user-set values it has (None: a new group), `current`: its value."""
    kind = group_kind(cluster)
    if choice.origin == "absent":
        return (
            f"max_slot_wal_keep_size does not exist before PostgreSQL {WAL_KEEP_MIN_MAJOR} (this is "
            f"{choice.major}): {meaning(str(WAL_KEEP_UNBOUNDED))} (OldestReplicationSlotLag, alarm_slot_lag_gib)"
        )
    if WAL_KEEP_PARAMETER in parameters:
        value = parameters[WAL_KEEP_PARAMETER][0]
        return f"max_slot_wal_keep_size={value} MB in {kind} {group} ({choice.why()}): {meaning(value)}"
    if current is not None:
        origin = (
            ""
            if choice.origin == "input"
            else (
                f", kept: the group's own value wins over the default of {choice.value_mb} MB"
                if choice.origin == "default"
                else ", kept"
            )
        )
        mb = "" if current == str(WAL_KEEP_UNBOUNDED) else " MB"
        copy = f" (its copy {group} keeps it)" if values_of != group else ""
        return f"max_slot_wal_keep_size={current}{mb} already in {kind} {values_of}{copy}{origin}: {meaning(current)}"
    unbounded = meaning(str(WAL_KEEP_UNBOUNDED))
    if choice.origin == "input":  # -1, which the group already means
        return f"max_slot_wal_keep_size unset in {kind} {group}, as max_slot_wal_keep_size_mb -1 asks: {unbounded}"
    if choice.origin == "default":
        return (
            f"max_slot_wal_keep_size unset in {kind} {group}, which needs no other change and is not the "
            f"workflow's alone: the default of {choice.value_mb} MB is not a reason to copy it. {unbounded}; "
            "max_slot_wal_keep_size_mb sets a bound (in a copy of the group)"
        )
    where = (
        "on Aurora, whose storage is not allocated (the cluster volume grows as needed)"
        if cluster
        else "without the instance's allocated storage"
    )
    return f"max_slot_wal_keep_size: no default {where}: {unbounded}; max_slot_wal_keep_size_mb sets a bound"


def failover_slot_parameters(instance: InstanceInfo) -> dict[str, tuple[str, str]]:
    """The parameters failover_slot adds to the group; InvalidInput where it cannot be honoured."""
    major = int(instance.engine_version.partition(".")[0])  # DescribeTarget has checked it parses
    refusal = failover_slot_refusal(major, aurora=instance.cluster_id is not None)
    if refusal:
        raise InvalidInput(refusal)
    return dict(FAILOVER_SLOT_PARAMETERS)


def _failover_note(group: str, cluster: bool) -> str:
    return (
        f"failover slot: sync_replication_slots=1 and hot_standby_feedback=1 in {group_kind(cluster)} {group} act "
        "on a read replica that uses it (a same-Region replica created without a group of its own does), which "
        "then keeps a synced copy of the slot that its promotion takes over; the primary ignores both. With "
        "hot_standby_feedback the replica's queries hold back VACUUM on the primary. A read replica with a "
        "group of its own needs both set there"
    )


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
    failover_slot: bool = False,
) -> ParameterPlan:
    """Reads only. `adopt`: the input's adopt kinds; `reboots`: the run may reboot the instance;
    `failover_slot`: the input's (InvalidInput where the target cannot have one)."""
    choice = wal_keep(instance, max_slot_wal_keep_size_mb)
    cluster = instance.cluster_id is not None
    failover = failover_slot_parameters(instance) if failover_slot else {}
    required = {**REQUIRED_PARAMETERS, **choice.parameters, **failover}
    soft = choice.soft
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
        # the group's values as they will be: a new group has none, a copy those of its source
        values_of = None if how.get("create_group") else str(how.get("copy_from") or group)
        current = _wal_keep_current(rds, choice, parameters, cluster, values_of)
        after = parameters[WAL_KEEP_PARAMETER][0] if WAL_KEEP_PARAMETER in parameters else current
        return ParameterPlan(
            group=group,
            cluster=cluster,
            parameters=parameters,
            pending_group=attached if foreign_pending else None,
            reboots=reboots,
            refusals=tuple(refusals),
            wal_keep_note=_wal_keep_note(choice, group, parameters, cluster, values_of, current),
            wal_keep_reason=choice.source,
            wal_keep_mb=bound_mb(after),
            failover_note=_failover_note(group, cluster) if failover else "",
            **how,  # type: ignore[arg-type]
        )

    def refused() -> ParameterPlan:
        """The run stops at refusals[-1]: no group will hold the parameters, nothing to say about them."""
        return ParameterPlan(
            group=attached,
            cluster=cluster,
            parameters={},
            pending_group=attached if foreign_pending else None,
            reboots=reboots,
            refusals=tuple(refusals),
        )

    source: str | None = None
    reason = ""
    to_set: dict[str, tuple[str, str]] = {}
    if not default:
        to_set = _missing(rds, attached, required, cluster, soft)
        if not to_set:
            return plan(attached, {})  # already set, whoever owns it: nothing to change
        others = [h for h in rds.parameter_group_holders(attached, cluster=cluster) if h != me]
        if attached_ours and not others:
            return plan(attached, to_set)
        if set(to_set) <= soft:  # only the default is missing: not worth a copy, an attach and a reboot
            return plan(attached, {})
        if attached.lower() == mine:  # named like the workflow's, but someone else's, or shared
            if others:
                refusals.append(_shared_own(kind, attached, others))
                return refused()
            if "parameter_group" not in adopt:
                refusals.append(_not_ours(kind, attached, f"set {', '.join(to_set)} in it"))
                return refused()
            return plan(attached, to_set, adopt_group=True)
        source = attached
        reason = f"shared with {', '.join(others)}" if others else f"{attached} is not the workflow's"

    mine_tags = rds.parameter_group_tags(mine, cluster=cluster)
    if mine_tags is None:
        if source is None:
            return plan(mine, _needed({}, required), create_group=True, attach_group=True)
        return plan(mine, to_set, copy_from=source, copy_reason=reason, attach_group=True)
    # it exists already: made by an earlier run that stopped before attaching it, or someone else's
    mine_others = [h for h in rds.parameter_group_holders(mine, cluster=cluster) if h != me]
    if mine_others:
        refusals.append(_shared_own(kind, mine, mine_others))
        return refused()
    adopting = not is_owned(mine_tags)
    if adopting and "parameter_group" not in adopt:
        use = f"copy {source} to it" if source else "use it"
        refusals.append(_not_ours(kind, mine, f"{use} and attach it to {me}"))
        return refused()
    return plan(mine, _missing(rds, mine, required, cluster, soft), adopt_group=adopting, attach_group=True)


def ensure_parameter_group(
    rds: Rds,
    instance: InstanceInfo,
    family: str,
    max_slot_wal_keep_size_mb: int | None = None,
    *,
    adopt: Collection[str] = (),
    reboots: bool = True,
    failover_slot: bool = False,
) -> tuple[list[str], bool]:
    """Apply the plan; returns (changes, whether a reboot is needed for them to take effect).
    Raises NotOwned, before any change, where the plan refuses."""
    plan = plan_parameter_group(
        rds, instance, max_slot_wal_keep_size_mb, adopt=adopt, reboots=reboots, failover_slot=failover_slot
    )
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


def reboot_required(changes_need_reboot: bool, apply_status: str, wal_level: str) -> bool:
    """Whether RebootInstance must run: for this step's static changes or attach, for changes
    already pending on the attached group, or because the server (as Preflight read it) is not
    at wal_level=logical yet, whatever the group says."""
    return changes_need_reboot or apply_status == "pending-reboot" or wal_level != "logical"


def ensure_logical_replication(rds: Rds, target: Target, setup: SetupInput, wal_level: str) -> ParameterGroupResult:
    """EnsureParameterGroup: apply the plan to the target's group, then read back what the reboot
    must apply and the WAL bound the group holds. `wal_level`: the server's, read by Preflight."""
    instance = rds.describe_instance(target.instance_id, target.cluster_id)
    changes, changes_need_reboot = ensure_parameter_group(
        rds,
        instance,
        target.parameter_group_family,
        setup.max_slot_wal_keep_size_mb,
        adopt=setup.adopt,
        reboots=setup.reboot != "never",
        failover_slot=setup.failover_slot,
    )
    instance = rds.describe_instance(target.instance_id, target.cluster_id)  # attached, pending: after the changes
    return ParameterGroupResult(
        parameter_group=instance.parameter_group,
        changes=changes,
        reboot_required=reboot_required(changes_need_reboot, instance.parameter_apply_status, wal_level),
        max_slot_wal_keep_size_mb=wal_keep_bound(rds, instance),  # what the group holds now: set, kept or absent
    )
