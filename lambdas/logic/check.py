"""The check workflow: what drifted on a prepared target since setup, as named findings.

It reads with setup's own readers and rules (the catalog, the tables setup publishes, the replica
identity rule, the slot's record in the CDC user's marker, the parameter group plan), so a finding is
exactly "setup would change this". With policy publish or repair it changes only through setup's
code (ConfigureDatabase's plan and apply, CreateSlot), with setup's ownership rules and timeouts.

The finding rules and CheckDatabase's decisions (database_check) are pure functions; login_findings
and repair_target take the ports as arguments (tests/unit/test_check.py, with fakes for them);
check_parameters and check_database only read through the ports and hand it to the rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from lambdas.dal import sql
from lambdas.dal.database import Database
from lambdas.dal.rds import Rds
from lambdas.dal.secrets import Secrets
from lambdas.logic.database_apply import configure_database, create_slot
from lambdas.logic.database_plan import lacking_identity, leaf_tables, publication_schemas, tables_to_publish
from lambdas.logic.parameter_group import (
    REQUIRED_PARAMETERS,
    group_kind,
    holder,
    plan_parameter_group,
)
from lambdas.logic.preflight import check_server, resolve_heartbeat, secret_name, setup_catalog
from lambdas.shared.check_models import (
    CheckInput,
    CheckOutput,
    CheckState,
    DatabaseCheck,
    Finding,
    FindingKind,
    ParameterCheck,
    RepairResult,
)
from lambdas.shared.errors import DatabaseUnreachable, InvalidInput
from lambdas.shared.models import ConfigureResult, SlotResult, Target
from lambdas.shared.ownership import recorded_slots
from lambdas.shared.settings import environment

K = FindingKind
GIB = 1024**3


def gib(size: int) -> str:
    return f"{size / GIB:.1f} GiB"


# ---- the finding rules (pure) ----------------------------------------------------------------------


def parameter_findings(
    *,
    where: str,
    kind: str,
    group: str,
    values: dict[str, str],
    apply_status: str,
    plan: list[str],
) -> list[Finding]:
    """`values`: the user-set values of the attached group among setup's required parameters;
    `plan`: setup's parameter group plan for the target as it stands (actions and refusals)."""
    findings = []
    logical = values.get("rds.logical_replication", "0")
    if logical != REQUIRED_PARAMETERS["rds.logical_replication"][0]:
        findings.append(
            Finding(
                kind=K.LOGICAL_REPLICATION_OFF,
                subject=group,
                detail=f"rds.logical_replication is {logical} in {kind} {group} of {where}: at the next reboot "
                "wal_level stops being logical and the connector stops. Run setup again (it sets it back)",
                severity="critical",
            )
        )
    sender = values.get("wal_sender_timeout")
    if sender != REQUIRED_PARAMETERS["wal_sender_timeout"][0]:
        findings.append(
            Finding(
                kind=K.WAL_SENDER_TIMEOUT,
                subject=group,
                detail=f"wal_sender_timeout is {sender or 'the engine default (60s)'} in {kind} {group}, not 0: "
                "a connector idle for that long is disconnected. Run setup again (it sets it to 0)",
            )
        )
    if apply_status == "pending-reboot":
        findings.append(
            Finding(
                kind=K.PARAMETER_PENDING_REBOOT,
                subject=group,
                detail=f"{where} has parameter changes in {kind} {group} that take effect only at its next "
                "reboot (whoever made them): until then the server runs with the old values",
            )
        )
    if plan:
        findings.append(
            Finding(
                kind=K.PARAMETER_DRIFT,
                subject=group,
                detail=f"setup would now: {'; '.join(plan)}",
            )
        )
    return findings


def captured_tables(state: sql.CatalogState, check: CheckInput, server: sql.ServerInfo) -> list[sql.Relation]:
    """The user tables setup publishes as the database stands now (PG13+ partitioned roots, PG10-12
    their leaves). A listed table that no longer exists is left out: there is nothing to publish."""
    if check.table_pairs is not None:
        present = {(r.schema, r.name) for r in state.relations}
        existing = [f"{s}.{t}" for s, t in check.table_pairs if (s, t) in present]
        if not existing:
            return []
        check = check.model_copy(update={"tables": existing})
    return tables_to_publish(state, check, server)


def table_findings(state: sql.CatalogState, check: CheckInput, server: sql.ServerInfo) -> list[Finding]:
    captured = captured_tables(state, check, server)
    findings = []
    publication = check.publication_name
    if state.publication_exists and state.publication_marked:
        if state.publication_mode == "tables":
            own = [f"{check.signal_table_schema}.{t}" for t in check.own_tables if t in state.own_tables]
            for name in [r.qualified_name for r in captured] + own:
                if name not in state.publication_tables:
                    findings.append(
                        Finding(
                            kind=K.UNPUBLISHED_TABLE,
                            subject=name,
                            detail=f"{name} is captured (schemas {', '.join(check.schemas)}) but not in publication "
                            f"{publication}: the connector receives none of its changes. policy publish adds it",
                        )
                    )
        elif state.publication_mode == "schemas":
            for schema in publication_schemas(check):
                if schema not in state.publication_schemas:
                    findings.append(
                        Finding(
                            kind=K.UNPUBLISHED_TABLE,
                            subject=schema,
                            detail=f"schema {schema} is not in publication {publication} (FOR TABLES IN SCHEMA): "
                            "none of its tables' changes are published. policy publish adds it",
                        )
                    )
    for relation in dict.fromkeys(captured + leaf_tables(captured, state)):
        if not relation.selectable:
            findings.append(
                Finding(
                    kind=K.NOT_SELECTABLE,
                    subject=relation.qualified_name,
                    detail=f"role {check.role_name} cannot SELECT {relation.qualified_name}: the connector's "
                    "snapshot of it fails. policy publish grants it, as setup does",
                )
            )
    if check.replica_identity != "ignore":
        for relation in lacking_identity(state, captured):
            findings.append(
                Finding(
                    kind=K.REPLICA_IDENTITY,
                    subject=relation.qualified_name,
                    detail=f"{relation.qualified_name} has no primary key or replica identity: UPDATE and DELETE "
                    "on it fail once it is published. Add a primary key, or set REPLICA IDENTITY FULL "
                    "(replica_identity full lets policy publish do it)",
                    severity="critical",
                )
            )
    return findings


def publication_findings(state: sql.CatalogState, check: CheckInput) -> list[Finding]:
    name = check.publication_name
    if state.publication_exists and state.publication_marked:
        return []
    found = (
        f"a publication named {name} exists but is not rds-cdc-setup's (no marker): someone replaced it"
        if state.publication_exists
        else f"publication {name} does not exist"
    )
    return [
        Finding(
            kind=K.PUBLICATION_MISSING,
            subject=name,
            detail=f"{found}. The connector cannot stream; once it is recreated (repair: true) the connector needs "
            "a new snapshot",
            severity="critical",
            snapshot=True,
        )
    ]


def slot_findings(
    slot: sql.SlotInfo | None, *, recorded: bool, check: CheckInput, database: str, now: datetime
) -> list[Finding]:
    """`recorded`: the CDC user's marker records the slot (setup made or adopted it)."""
    name = check.slot_name
    if slot is None or not recorded or slot.plugin != "pgoutput" or slot.database != database:
        found = (
            f"replication slot {name} does not exist (dropped, or not carried over by a failover, blue/green "
            "switchover, major version upgrade or restore)"
            if slot is None
            else f"a replication slot named {name} exists but is not rds-cdc-setup's for user {check.user_name} "
            f"on {database} ({slot.plugin} on {slot.database})"
        )
        return [
            Finding(
                kind=K.SLOT_MISSING,
                subject=name,
                detail=f"{found}. The changes since it was lost are gone for the connector: once the slot is "
                "recreated (repair: true) the connector needs a new snapshot",
                severity="critical",
                snapshot=True,
            )
        ]
    findings = []
    if not slot.active:
        if slot.inactive_since:
            # never negative: inactive_since is the server's clock, `now` the step's, which may run behind it
            elapsed = max(now - datetime.fromisoformat(slot.inactive_since), timedelta(0))
            minutes = int(elapsed.total_seconds()) // 60
            how_long = f"since {slot.inactive_since} ({minutes // 60} h {minutes % 60} min)"
        else:
            how_long = "now (PostgreSQL before 17 does not record since when: the retained WAL shows how far behind)"
        findings.append(
            Finding(
                kind=K.SLOT_INACTIVE,
                subject=name,
                detail=f"nothing streams from replication slot {name} {how_long}; it holds WAL back until the "
                "connector reads again",
            )
        )
    if slot.wal_status in ("lost", "unreserved"):
        lost = slot.wal_status == "lost"
        findings.append(
            Finding(
                kind=K.SLOT_WAL_STATUS,
                subject=name,
                detail=(
                    f"replication slot {name} has wal_status lost: the WAL it needs was removed (it fell more than "
                    "max_slot_wal_keep_size behind), no connector can stream from it again. Drop it "
                    f"(SELECT pg_drop_replication_slot('{name}')), then check with repair: true; the connector "
                    "needs a new snapshot"
                    if lost
                    else f"replication slot {name} has wal_status unreserved: it holds more WAL than "
                    "max_slot_wal_keep_size and loses it at the next checkpoint unless the connector catches up "
                    f"(safe_wal_size {slot.safe_wal_size} bytes)"
                ),
                severity="critical",
                snapshot=lost,
            )
        )
    threshold = check.retained_threshold_bytes
    if slot.retained_bytes is not None and slot.retained_bytes > threshold:
        safe = f"; {gib(slot.safe_wal_size)} more before it is lost" if slot.safe_wal_size is not None else ""
        findings.append(
            Finding(
                kind=K.SLOT_RETAINED_BYTES,
                subject=name,
                detail=f"replication slot {name} holds {gib(slot.retained_bytes)} of WAL back, above "
                f"{gib(threshold)} (slot_retained_gib){safe}",
            )
        )
    return findings


def server_findings(server: sql.ServerInfo, target: Target) -> list[Finding]:
    if server.wal_level == "logical":
        return []
    where = target.cluster_id or target.instance_id
    return [
        Finding(
            kind=K.LOGICAL_REPLICATION_OFF,
            subject=where,
            detail=f"the server runs with wal_level {server.wal_level}, not logical: no change is decoded and "
            "the connector cannot stream. Run setup again (it sets the parameter and reboots)",
            severity="critical",
        )
    ]


def login_finding(user: str, problem: str) -> Finding:
    return Finding(
        kind=K.LOGIN_FAILED,
        subject=user,
        detail=f"the CDC user cannot log in with the password in its secret: {problem}",
        severity="critical",
    )


# ---- the steps ---------------------------------------------------------------------------------------


# The steps read through the ports and hand what they read to the pure rules above; their glue is
# covered by tests/workflow/test_check.py, so `make mutate` does not mutate it (pragma).


def check_parameters(rds: Rds, target: Target, check: CheckInput) -> ParameterCheck:  # pragma: no mutate block
    """CheckParameters: the group and instance as RDS reports them, against setup's plan (reads only)."""
    instance = rds.describe_instance(target.instance_id, target.cluster_id)
    cluster = instance.cluster_id is not None
    where = holder(instance)
    plan = plan_parameter_group(rds, instance, check.max_slot_wal_keep_size_mb, adopt=check.adopt, reboots=False)
    return ParameterCheck(
        findings=parameter_findings(
            where=where,
            kind=group_kind(cluster),
            group=instance.parameter_group,
            values=rds.user_parameters(instance.parameter_group, set(REQUIRED_PARAMETERS), cluster=cluster),
            apply_status=instance.parameter_apply_status,
            plan=plan.actions(where, target.parameter_group_family) + list(plan.refusals),
        )
    )


def check_database(
    db: Database,
    secrets: Secrets,
    check: CheckInput,
    target: Target,
    as_user: Callable[[str], Database],
    now: datetime,
) -> DatabaseCheck:  # pragma: no mutate block
    """CheckDatabase: as the master user, what setup made; then a login as the CDC user (`as_user`
    opens a connection with the secret of that ARN)."""
    server = sql.server_info(db)
    check_server(server)
    state = setup_catalog(db, check, target, server)
    return database_check(
        check,
        target,
        server,
        state,
        slot=sql.slot(db, check.slot_name),
        user_comment=sql.role_comment(db, check.user_name),
        login=login_findings(secrets, check, target, as_user),
        now=now,
    )


def database_check(
    check: CheckInput,
    target: Target,
    server: sql.ServerInfo,
    state: sql.CatalogState,
    *,
    slot: sql.SlotInfo | None,
    user_comment: str | None,
    login: list[Finding],
    now: datetime,
) -> DatabaseCheck:
    """CheckDatabase's decisions from what it read (pure): the findings, and whether the publication and
    the slot are the workflow's own, which is all RepairTarget changes the database from.
    `user_comment`: the CDC user's comment, whose marker records the slots setup made or adopted."""
    # heartbeat "auto": what Preflight chose (the table where ours exists), so the table is checked only then
    check = check.model_copy(update={"heartbeat": resolve_heartbeat(check, server, state)})
    recorded = (target.database, check.slot_name) in recorded_slots(user_comment)
    table_found = table_findings(state, check, server)
    findings = (
        server_findings(server, target)
        + publication_findings(state, check)
        + table_found
        + slot_findings(slot, recorded=recorded, check=check, database=target.database, now=now)
        + login
    )
    slot_ours = slot is not None and not any(f.kind is K.SLOT_MISSING for f in findings)
    return DatabaseCheck(
        findings=findings,
        server_version_num=server.version_num,
        publication_ours=state.publication_exists and state.publication_marked,
        slot_ours=slot_ours,
        unpublished_tables=sum(f.kind is K.UNPUBLISHED_TABLE for f in table_found),
        heartbeat=check.chosen_heartbeat(),
    )


def login_findings(
    secrets: Secrets, check: CheckInput, target: Target, as_user: Callable[[str], Database]
) -> list[Finding]:
    name = secret_name(check, target)
    secret = secrets.inspect_user_secret(name, kms_key_arn=environment().secrets_kms_key_arn)
    if secret.arn is None:
        return [login_finding(check.user_name, f"there is no secret {name}")]
    try:
        with as_user(secret.arn) as user_db:
            user_db.value("SELECT 1")
    except (DatabaseUnreachable, InvalidInput) as refused:
        return [login_finding(check.user_name, str(refused))]
    return []


def repair_target(
    db: Database,
    secrets: Secrets,
    check: CheckInput,
    target: Target,
    found: DatabaseCheck,
    reconnect: Callable[[], Database],
) -> RepairResult:
    """RepairTarget, under the target's lock: policy publish runs ConfigureDatabase's code on a publication
    of ours (it adds the unpublished tables and grants SELECT, refusing tables without a usable replica
    identity as setup does); repair runs it where the publication is lost and CreateSlot's where the slot
    is. Someone else's object of that name is refused (NotOwned), as setup refuses it."""
    applied: list[ConfigureResult | SlotResult] = []  # what setup's code did, in order
    repaired: list[str] = []
    if check.heartbeat == "auto":
        check = check.model_copy(update={"heartbeat": found.heartbeat})
    publish = check.policy == "publish" and found.publication_ours
    if publish or (check.repair and not found.publication_ours):
        applied.append(configure_database(db, secrets, check, target))
        if not found.publication_ours:
            repaired.append("publication")
    if check.repair and not found.slot_ours:
        applied.append(create_slot(db, check, target, reconnect))
        repaired.append("slot")
    return RepairResult(changes=[change for result in applied for change in result.changes], repaired=repaired)


def report_check(state: CheckState) -> CheckOutput:
    """ReportCheck: the findings as found before any repair, counted per kind (every kind, zeros too)."""
    findings = (state.parameters.findings if state.parameters else []) + state.database.findings
    counts = {kind.value: sum(f.kind is kind for f in findings) for kind in FindingKind}
    repaired = state.repair.repaired if state.repair else []
    snapshot_needed = any(f.snapshot for f in findings)
    where = state.input.target_id
    if not findings:
        message = f"{where}: no findings; nothing was changed."
    else:
        named = ", ".join(f"{kind} {count}" for kind, count in counts.items() if count)
        message = f"{where}: {len(findings)} finding(s): {named}."
    if snapshot_needed:
        lost = sorted({f.subject for f in findings if f.snapshot})
        message += (
            f" SNAPSHOT NEEDED: {', '.join(lost)} {'was' if len(lost) == 1 else 'were'} lost; the connector cannot "
            "resume where it stopped and must take a new snapshot"
        )
        message += (
            f" (recreated: {', '.join(repaired)})."
            if repaired
            else ". repair: true recreates what setup made, as setup would."
        )
    return CheckOutput(
        status="Findings" if findings else "Clean",
        target=where,
        findings=findings,
        counts=counts,
        changes=state.changes,
        repaired=repaired,
        snapshot_needed=snapshot_needed,
        message=message,
    )
