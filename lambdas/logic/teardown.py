"""Teardown: remove what setup created, each part opt-in. Every step inspects first and
applies only what is still there, so re-runs converge; the dry-run plan comes from the same
functions without applying."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from lambdas.dal import sql
from lambdas.dal.cloudwatch import Alarms
from lambdas.dal.database import DEPENDENT_OBJECTS, OBJECT_IN_USE, Database, ServerError
from lambdas.dal.rds import COPIED_FROM_TAG_KEY, Rds
from lambdas.dal.secrets import Secrets
from lambdas.dal.security_groups import SecurityGroups
from lambdas.logic.database_plan import Change
from lambdas.logic.monitoring import alarms_to_delete
from lambdas.logic.ownership import OwnershipCheck, check_role
from lambdas.logic.parameter_group import holder, is_default_group, is_owned
from lambdas.logic.preflight import secret_name
from lambdas.logic.schedule import schedule_name
from lambdas.logic.security_group import plan_removal
from lambdas.shared.errors import DependentObjects, LongTransactionBlocking, NotOwned, SlotConflict, SlotInUse
from lambdas.shared.models import Target
from lambdas.shared.ownership import recorded_slots, user_marker
from lambdas.shared.settings import environment
from lambdas.shared.teardown_models import TeardownInput, TeardownOutput, TeardownState


def teardown_catalog(db: Database, t: TeardownInput) -> sql.TeardownCatalog:
    return sql.read_teardown_catalog(
        db,
        slot_name=t.slot_name,
        publication=t.publication_name,
        signal_schema=t.signal_table_schema,
        user=t.user_name,
        role=t.role_name,
    )


def slot_changes(catalog: sql.TeardownCatalog, t: TeardownInput, target: Target) -> list[str]:
    slot = catalog.slot
    if slot is None:
        return []
    ownership = OwnershipCheck(adopt=frozenset(t.adopt))
    ownership.adopts(f"replication slot {t.slot_name}", "slot", catalog.slot_recorded)
    ownership.raise_if_foreign("drop")
    if slot.database != target.database:
        raise SlotConflict(
            f"Replication slot {t.slot_name} belongs to database {slot.database!r}, not {target.database!r}; "
            "run the teardown with that database"
        )
    if slot.active and not t.force:
        raise SlotInUse(
            f"Replication slot {t.slot_name} is being read by process {catalog.slot_pid} (a connector is "
            "streaming from it). Stop the connector first, or pass force to end that session and drop the slot"
        )
    terminate = [f"end the session reading slot {t.slot_name} (pid {catalog.slot_pid})"] if slot.active else []
    return [*terminate, f"drop replication slot {t.slot_name}"]


def reader_changes(catalog: sql.TeardownCatalog, t: TeardownInput, target: Target, what: str) -> list[str]:
    """While a connector streams the slot of this setup (in this database), dropping `what` (the
    publication it reads, the user it logs in as) would cut it off: refused unless forced, and
    forced, its session is ended first, as drop_slot does."""
    slot = catalog.slot
    if slot is None or not slot.active or slot.database != target.database:
        return []
    if not t.force:
        raise SlotInUse(
            f"Replication slot {t.slot_name} is being read by process {catalog.slot_pid} (a connector is "
            f"streaming from it); dropping {what} would cut that connector off. Stop the connector first, or pass "
            "force to end that session and drop it"
        )
    return [f"end the session reading slot {t.slot_name} (pid {catalog.slot_pid})"]


def end_reader(db: Database, catalog: sql.TeardownCatalog, ending: list[str]) -> None:
    if ending and catalog.slot_pid is not None:
        sql.terminate_slot_reader(db, catalog.slot_pid)


def publication_changes(catalog: sql.TeardownCatalog, t: TeardownInput) -> list[Change]:
    if not catalog.publication_exists:
        return []
    ownership = OwnershipCheck(adopt=frozenset(t.adopt))
    ownership.adopts(f"publication {t.publication_name}", "publication", catalog.publication_marked)
    ownership.raise_if_foreign("drop")
    return [Change(f"drop publication {t.publication_name}", (sql.drop_publication(t.publication_name),))]


def table_changes(catalog: sql.TeardownCatalog, t: TeardownInput) -> list[Change]:
    schema = t.signal_table_schema
    changes = []
    ownership = OwnershipCheck(adopt=frozenset(t.adopt))
    for table in catalog.own_tables:
        ownership.adopts(f"table {schema}.{table}", "tables", table in catalog.own_tables_marked)
    ownership.raise_if_foreign("drop")
    if catalog.own_tables:
        names = ", ".join(f"{schema}.{table}" for table in catalog.own_tables)
        changes.append(Change(f"drop table {names}", (sql.drop_tables(schema, list(catalog.own_tables)),)))
    # A schema the workflow did not create (public, or one that was there) is kept, empty or not.
    ours = catalog.signal_schema_marked or "schema" in t.adopt
    if catalog.signal_schema_exists and not catalog.signal_schema_other_objects and ours:
        changes.append(Change(f"drop schema {schema} (nothing else in it)", (sql.drop_schema(schema),)))
    return changes


def user_changes(catalog: sql.TeardownCatalog, t: TeardownInput, target: Target) -> list[Change]:
    roles = list(catalog.roles)
    if not roles:
        return []
    database = target.database
    ownership = OwnershipCheck(adopt=frozenset(t.adopt))
    for name in roles:
        state = catalog.role_states[name]
        what, kind = ("user", "user") if name == t.user_name else ("role", "role")
        check_role(what, name, state, master_username=target.master_username, allowed_members=(t.user_name,))
        ownership.adopts(f"{what} {name}", kind, state.marked)
    ownership.raise_if_foreign("drop")
    changes = [
        # REASSIGN/DROP OWNED need the roles' privileges: an RDS master user is no superuser.
        Change(
            f"grant {role} to {catalog.current_user} to take over its objects",
            (sql.grant_role(role, catalog.current_user),),
        )
        for role in roles
        if not catalog.is_superuser and role not in catalog.roles_usable
    ]
    changes.append(
        Change(
            f"revoke every privilege of {', '.join(roles)} in database {database} "
            f"(objects they own go to {catalog.current_user})",
            (sql.reassign_owned(roles, catalog.current_user), sql.drop_owned(roles)),
        )
    )
    changes += [Change(f"drop role {role}", (sql.drop_role(role),)) for role in roles]
    return changes


def parameter_group_changes(
    rds: Rds, catalog: sql.TeardownCatalog, t: TeardownInput, target: Target, slot_dropped: bool
) -> tuple[list[str], str | None]:
    """(changes, the group to attach). Only a group that is the workflow's by its owner tag is
    reverted (Aurora: the cluster parameter group of the cluster): to the group it was copied from
    when that still exists, else to the family's default group."""
    instance = rds.describe_instance(target.instance_id, target.cluster_id)
    cluster = target.cluster_id is not None
    group = instance.parameter_group
    tags = None if is_default_group(group) else rds.parameter_group_tags(group, cluster=cluster)
    if tags is None or not is_owned(tags):
        return [], None
    remaining = list(catalog.other_logical_slots)
    if catalog.slot is not None and not slot_dropped:
        remaining.insert(0, t.slot_name)
    if remaining:
        # A logical slot with wal_level below logical stops PostgreSQL from starting after the reboot.
        raise SlotConflict(
            f"Logical replication slots {', '.join(remaining)} still exist on {holder(instance)}; "
            "with the default parameter group the server could not start after its next reboot. "
            "Drop them (drop_slot for ours) before reverting the parameter group"
        )
    source = tags.get(COPIED_FROM_TAG_KEY)
    if source and rds.parameter_group_exists(source, cluster=cluster):
        back, why = source, "the group it was copied from; "
    else:
        back, why = f"default.{target.parameter_group_family}", ""
    return [
        f"attach parameter group {back} to {holder(instance)} instead of {group} "
        f"({why}logical replication stays on until the next reboot; the custom group is kept)"
    ], back


def plan_teardown(
    db: Database,
    rds: Rds,
    secrets: Secrets,
    t: TeardownInput,
    target: Target,
    alarms: Alarms | None = None,
    security_groups: SecurityGroups | None = None,
) -> list[str]:
    """Every change the chosen parts would make, in order; raises what the run would raise."""
    catalog = teardown_catalog(db, t)
    plan: list[str] = []

    def refusable(planned: Callable[[], list[str]]) -> list[str]:
        """A real run stops at a live connector; a dry run lists the refusal and goes on."""
        try:
            return planned()
        except SlotInUse as refused:
            if not t.dry_run:
                raise
            return [f"refused (a real run stops here): {refused}"]

    def live(what: str, descriptions: list[str]) -> list[str]:
        """The reader's session is ended once, by the first step that cuts it off."""
        if not descriptions:
            return []
        ending = [] if t.drop_slot else refusable(lambda: reader_changes(catalog, t, target, what))
        return [line for line in ending if line not in plan] + descriptions

    if t.drop_slot:
        plan += refusable(lambda: slot_changes(catalog, t, target))
    if t.drop_publication:
        plan += live(f"publication {t.publication_name}", [c.description for c in publication_changes(catalog, t)])
    if t.drop_tables:
        plan += [c.description for c in table_changes(catalog, t)]
    if t.drop_user:
        plan += live(f"user {t.user_name}", [c.description for c in user_changes(catalog, t, target)])
        secret = user_secret(secrets, t, target)
        plan += [f"delete secret {secret}"] if secret else []
    if t.revert_parameter_group:
        plan += parameter_group_changes(rds, catalog, t, target, slot_dropped=t.drop_slot)[0]
    if t.drop_alarms and alarms is not None:
        plan += [f"delete alarm {name}" for name in alarms_to_delete(alarms, target)]
    if t.drop_security_group and security_groups is not None:
        plan += plan_removal(rds, security_groups, t, target).changes
    if t.drop_check_schedule:
        name = schedule_name(t.setup_input(), target)
        plan.append(f"delete check schedule {environment().check_schedule_group}/{name}, where there is one")
    return plan


@contextmanager
def lock_timeout(db: Database, step: str) -> Iterator[None]:
    """The teardown's DDL waits at most lock_timeout_ms for a lock, then gives up naming who holds it,
    instead of queueing the application's queries behind its own request (DROP takes ACCESS EXCLUSIVE)."""
    timeout_ms = environment().lock_timeout_ms
    db.execute(f"SET lock_timeout = {int(timeout_ms)}")
    try:
        yield
    except LongTransactionBlocking as error:
        raise sql.gave_up_waiting(db, step, timeout_ms, error, "nothing was removed") from None
    finally:
        with suppress(Exception):  # a lost connection has no setting left to reset; keep the first error
            db.execute("RESET lock_timeout")


def _apply(db: Database, changes: list[Change], step: str) -> list[str]:
    """One transaction under lock_timeout: a refused statement leaves everything as it was."""
    try:
        with lock_timeout(db, step), db.transaction():
            for change in changes:
                for statement in change.statements:
                    db.execute(statement)
    except ServerError as error:
        if error.sqlstate != DEPENDENT_OBJECTS:
            raise
        raise DependentObjects(
            f"{error.server_message}: {error.detail.replace(chr(10), '; ')}. Nothing was removed; revoke or "
            "drop those (for another database, run the teardown with that database) and run it again"
        ) from None
    return [change.description for change in changes]


def drop_slot(db: Database, t: TeardownInput, target: Target) -> list[str]:
    catalog = teardown_catalog(db, t)
    changes = slot_changes(catalog, t, target)
    if not changes:
        return []
    if catalog.slot_pid is not None and catalog.slot is not None and catalog.slot.active:
        sql.terminate_slot_reader(db, catalog.slot_pid)
    with lock_timeout(db, "DropSlot"):
        try:
            sql.drop_slot(db, t.slot_name)
        except ServerError as error:
            if error.sqlstate != OBJECT_IN_USE:
                raise
            raise SlotInUse(
                f"Replication slot {t.slot_name} became active again while being dropped: a connector reconnects "
                "to it. Stop the connector, then run the teardown again"
            ) from None
        forget_slot(db, t, target)
    return changes


def forget_slot(db: Database, t: TeardownInput, target: Target) -> None:
    """Take the dropped slot out of its user's marker: a later slot of that name made by someone
    else must not pass for the workflow's."""
    comment = sql.role_comment(db, t.user_name)
    slots = recorded_slots(comment)
    if (target.database, t.slot_name) in slots:
        db.execute(sql.comment_on("ROLE", t.user_name, user_marker(slots - {(target.database, t.slot_name)})))


def drop_publication(db: Database, t: TeardownInput, target: Target) -> list[str]:
    catalog = teardown_catalog(db, t)
    changes = publication_changes(catalog, t)
    if not changes:
        return []
    ending = reader_changes(catalog, t, target, f"publication {t.publication_name}")
    end_reader(db, catalog, ending)
    return ending + _apply(db, changes, "DropPublication")


def drop_tables(db: Database, t: TeardownInput) -> list[str]:
    return _apply(db, table_changes(teardown_catalog(db, t), t), "DropSignalTables")


def user_secret(secrets: Secrets, t: TeardownInput, target: Target) -> str | None:
    """The CDC user's secret to delete: the workflow's own, or one adopted; someone else's is refused."""
    name = secret_name(t.setup_input(), target)
    found = secrets.inspect_user_secret(name, kms_key_arn=environment().secrets_kms_key_arn)
    if found.arn is None or "scheduled for deletion" in found.problems:
        return None
    if not found.owned and "secret" not in t.adopt:
        raise NotOwned(found.refusal(name))
    return found.arn


def drop_user(db: Database, secrets: Secrets, t: TeardownInput, target: Target) -> list[str]:
    """Roles first: their secret is deleted only once the password can no longer log in."""
    catalog = teardown_catalog(db, t)
    changes = user_changes(catalog, t, target)
    secret = user_secret(secrets, t, target)  # refused before any role is dropped
    ending = reader_changes(catalog, t, target, f"user {t.user_name}") if changes else []
    end_reader(db, catalog, ending)
    removed = ending + _apply(db, changes, "DropUser")
    if secret:
        secrets.delete_secret(secret)
        removed.append(f"delete secret {secret}")
    return removed


def revert_parameter_group(db: Database, rds: Rds, t: TeardownInput, target: Target) -> list[str]:
    catalog = teardown_catalog(db, t)
    changes, default = parameter_group_changes(rds, catalog, t, target, slot_dropped=False)
    if default:
        rds.attach_parameter_group(target.instance_id, default, cluster_id=target.cluster_id)
    return changes


def report(state: TeardownState) -> TeardownOutput:
    """The plan of a dry run, or what the parts chosen removed."""
    if state.input.dry_run:
        return TeardownOutput(
            status="DryRun",
            plan=state.plan.plan,
            message="Dry run: nothing was removed. Start again with dry_run false to apply the plan.",
        )
    changes = state.changes
    reboot = any(c.startswith("attach parameter group") for c in changes)
    cluster = state.target.cluster_id
    rebooted = f"the instances of cluster {cluster}" if cluster else "the instance"
    return TeardownOutput(
        status="Removed",
        changes=changes,
        message=("Everything chosen is gone." if changes else "Nothing left to remove.")
        + (
            f" Reboot {rebooted} (or wait for the maintenance window) to turn logical replication off."
            if reboot
            else ""
        ),
    )
