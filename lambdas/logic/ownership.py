"""Who owns what: the checks that keep the workflow to objects it created (or was told to adopt).

A role, schema, table, publication or slot with a name the workflow uses is its own when it
carries the workflow's marker (lambdas/shared/ownership.py). Anything else is refused with
NotOwned naming the object and the `adopt` kind that would take it over; some roles are never
touched, whatever the input says."""

from __future__ import annotations

from dataclasses import dataclass, field

from lambdas.dal.sql import RoleState
from lambdas.shared.errors import NotOwned, some


@dataclass(frozen=True)
class Foreign:
    """An object with the workflow's name that it did not create."""

    description: str  # e.g. "user streamkap_user"
    kind: str  # the adopt kind that would take it over


@dataclass
class OwnershipCheck:
    """Collects every object a run would have to take over, so one refusal lists them all."""

    adopt: frozenset[str]
    foreign: list[Foreign] = field(default_factory=list)

    def adopts(self, description: str, kind: str, marked: bool) -> bool:
        """False for the workflow's own object; True for one the run adopts (and so must mark).
        Without `kind` in adopt the object is recorded for the refusal (raise_if_foreign)."""
        if marked:
            return False
        if kind not in self.adopt:
            self.foreign.append(Foreign(description, kind))
        return True

    def raise_if_foreign(self, action: str = "change") -> None:
        if not self.foreign:
            return
        kinds = list(dict.fromkeys(f.kind for f in self.foreign))
        raise NotOwned(
            f"These exist but were not created by rds-cdc-setup (they carry no rds-cdc-setup marker), so the "
            f"workflow will not {action} them: {some([f.description for f in self.foreign])}. Use other names in "
            f"the input, remove them, or take them over deliberately with adopt: {kinds} "
            "(a dry run shows what adopting changes)"
        )


def never_touched(name: str, role: RoleState, master_username: str | None) -> list[str]:
    """Why the workflow may never alter or drop this role, adopted or not."""
    reasons = []
    if role.superuser:
        reasons.append("is a superuser")
    elif role.rds_superuser:
        reasons.append("is a member of rds_superuser")
    if role.connected_as:
        reasons.append("is the user the workflow connects as")
    if master_username is not None and name == master_username:
        reasons.append("is the instance's master user")
    return reasons


def not_adoptable(role: RoleState, allowed_members: tuple[str, ...] = ()) -> list[str]:
    """Why an unmarked role cannot be adopted: it is someone's working role."""
    reasons = []
    if role.owned_objects:
        reasons.append(f"owns {role.owned_objects} objects")
    others = [m for m in role.members if m not in allowed_members]
    if others:
        reasons.append(f"has members ({some(others, 5)})")
    return reasons


def check_role(
    what: str,
    name: str,
    role: RoleState,
    *,
    master_username: str | None,
    allowed_members: tuple[str, ...] = (),
) -> None:
    """Refuse roles the workflow never touches, and unmarked roles nobody could safely adopt."""
    reasons = never_touched(name, role, master_username)
    if reasons:
        raise NotOwned(
            f"The {what} {name} {' and '.join(reasons)}: the workflow never changes or drops such a role, "
            f"adopt or not. Choose another {what}_name"
        )
    if not role.marked:
        reasons = not_adoptable(role, allowed_members)
        if reasons:
            raise NotOwned(
                f"The {what} {name} exists, was not created by rds-cdc-setup and {' and '.join(reasons)}: it is in "
                f"use, so the workflow will not take it over, even with adopt. Choose another {what}_name"
            )
