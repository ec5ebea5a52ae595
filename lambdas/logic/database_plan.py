"""The database plan: ConfigureDatabase as a pure diff. From the catalog state and the input, the changes to
make; the same function gives Preflight's plan and the statements database_apply.py runs."""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.dal import sql
from lambdas.dal.sql import HEARTBEAT_TABLE, SIGNAL_TABLE, CatalogState, Relation, ServerInfo
from lambdas.logic.ownership import OwnershipCheck, check_role
from lambdas.shared.errors import InsufficientPrivilege, InvalidInput, PublicationConflict, ReplicaIdentityMissing, some
from lambdas.shared.models import SetupInput
from lambdas.shared.ownership import marker, user_marker

VERIFIER_PLACEHOLDER = "SCRAM-SHA-256$4096:planned$planned:planned"


@dataclass(frozen=True)
class Change:
    description: str
    statements: tuple[str, ...]
    # A statement whose permission only the server can tell (a superuser-only publication), tried in
    # a transaction that is rolled back before anything changes (preflight.check_publication_mode).
    trial: str | None = None


def publication_schemas(setup: SetupInput) -> list[str]:
    """publication_mode schemas: the captured schemas and the signal schema, whose tables must be published."""
    return list(dict.fromkeys([*setup.schemas, setup.signal_table_schema]))


def tables_to_publish(state: CatalogState, setup: SetupInput, server: ServerInfo) -> list[Relation]:
    """The user tables the publication holds. PG13+: roots (publish_via_partition_root);
    PG10-12 cannot publish a partitioned table, so its leaf partitions instead."""
    by_name = {(r.schema, r.name): r for r in state.relations}
    own = {(setup.signal_table_schema, SIGNAL_TABLE), (setup.signal_table_schema, HEARTBEAT_TABLE)}
    if setup.table_pairs is None:
        chosen = [r for r in state.relations if not r.is_partition and (r.schema, r.name) not in own]
    else:
        missing = [f"{s}.{t}" for s, t in setup.table_pairs if (s, t) not in by_name]
        if missing:
            raise InvalidInput(f"Tables not found in database {state.database!r}: {some(missing)}")
        chosen = [by_name[pair] for pair in setup.table_pairs]
    return chosen if server.supports_partition_root else leaf_tables(chosen, state)


def leaf_tables(relations: list[Relation], state: CatalogState) -> list[Relation]:
    """Where rows really live: each partitioned table replaced by its leaf partitions. UPDATE/DELETE
    on these need a replica identity; PG10-12 publish these instead of the partitioned roots."""
    by_oid = {r.oid: r for r in state.relations}
    leaves: list[Relation] = []
    for relation in relations:
        if relation.kind == "p":
            leaves.extend(by_oid[o] for o in state.partition_leaves.get(relation.oid, ()) if o in by_oid)
        else:
            leaves.append(relation)
    return leaves


def missing_schemas(state: CatalogState, setup: SetupInput) -> list[str]:
    return [s for s in setup.schemas if s not in state.schemas]


def plan_database(
    state: CatalogState,
    setup: SetupInput,
    server: ServerInfo,
    *,
    secret_exists: bool,
    master_username: str | None = None,
    verifier: str = VERIFIER_PLACEHOLDER,
) -> list[Change]:
    """Every change ConfigureDatabase would make, in order; [] on a ready database.
    Raises a named error, before anything is changed, when the input can't be satisfied or an
    object with one of the workflow's names is not the workflow's own (NotOwned).
    `secret_exists`: the CDC user's secret (the workflow's own) is already there."""
    absent = missing_schemas(state, setup)
    if absent:
        raise InvalidInput(f"Schemas not found in database {state.database!r}: {', '.join(absent)}")
    if setup.publication_mode == "schemas" and not server.supports_schema_publication:
        raise InvalidInput(
            f"publication_mode schemas (CREATE PUBLICATION ... FOR TABLES IN SCHEMA) needs PostgreSQL 15 or later; "
            f"this server runs PostgreSQL {server.version_num} (major {server.major}). Use publication_mode tables "
            "(the default: the schemas' tables listed) or all_tables"
        )
    user, role, database = setup.user_name, setup.role_name, state.database
    signal_schema = setup.signal_table_schema
    changes: list[Change] = []
    not_permitted: list[str] = []  # what the master user would need to own for the planned changes
    ownership = OwnershipCheck(adopt=frozenset(setup.adopt))

    def add(description: str, *statements: str) -> None:
        changes.append(Change(description, statements))

    def require(permitted: bool, what: str) -> None:
        if not permitted:
            not_permitted.append(what)

    def owned_schema(schema: str) -> bool:
        return state.owned_schemas is None or schema in state.owned_schemas

    changes += _role_changes(state, setup, ownership, master_username, secret_exists, verifier)
    if changes:
        require(server.can_create_role, "the CREATEROLE privilege")
    if server.rds_replication_exists:
        if not state.role_in_rds_replication:
            add(f"grant rds_replication to {role}", sql.grant_role("rds_replication", role))
    elif not (state.user and state.user.replication):
        add(f"give {user} the REPLICATION attribute (self-managed PostgreSQL)", sql.grant_replication_attribute(user))

    # CONNECT, USAGE and SELECT only: the CDC login (its password goes to a vendor) never creates
    # objects, which could plant functions that run with the privileges of whoever calls them.
    if "CONNECT" not in state.database_privileges:
        require(state.database_owned, f"database {database}")
        add(f"grant CONNECT on database {database} to {role}", sql.grant_on_database(["CONNECT"], database, role))
    if state.database_create_granted:
        require(state.database_owned, f"database {database}")
        add(f"revoke CREATE on database {database} from {role}", sql.revoke_create_on_database(database, role))
    for schema in setup.schemas:
        if "USAGE" not in state.schemas[schema]:
            require(owned_schema(schema), f"schema {schema}")
            add(f"grant USAGE on schema {schema} to {role}", sql.grant_on_schema(["USAGE"], schema, role))
        if schema in state.schemas_create_granted:
            require(owned_schema(schema), f"schema {schema}")
            add(f"revoke CREATE on schema {schema} from {role}", sql.revoke_create_on_schema(schema, role))

    published = tables_to_publish(state, setup, server)
    if setup.table_pairs is None:
        for schema in setup.schemas:
            in_schema = [r for r in state.relations if r.schema == schema]
            unselectable = [r for r in in_schema if not r.selectable]
            for relation in unselectable:
                require(relation.owned, f"table {relation.qualified_name}")
            if unselectable:
                add(
                    f"grant SELECT on all tables in schema {schema} to {role}",
                    sql.grant_select_all_tables(schema, role),
                )
            # Tables created later: by the master, or by a role that owns tables here today (the
            # master can set default privileges only for roles it is a member of).
            creators = [server.current_user, *sorted({r.owner for r in in_schema if r.owned and r.owner})]
            for owner in dict.fromkeys(creators):
                if (owner, schema) not in state.default_select:
                    add(
                        f"grant SELECT on tables {owner} creates later in schema {schema} to {role}",
                        sql.default_select(owner, schema, role),
                    )
    else:
        unselectable = [r for r in leaf_tables(published, state) + published if not r.selectable]
        unique = list(dict.fromkeys((r.schema, r.name) for r in unselectable))
        for relation in dict.fromkeys(unselectable):
            require(relation.owned, f"table {relation.qualified_name}")
        if unique:
            add(f"grant SELECT on {len(unique)} tables to {role}", sql.grant_on_tables(["SELECT"], unique, role))

    own_tables = setup.own_tables
    if not state.signal_schema_exists:
        add(
            f"create schema {signal_schema}",
            sql.create_schema(signal_schema),
            sql.comment_on("SCHEMA", signal_schema, marker("schema for the Streamkap signal and heartbeat tables")),
        )
    elif not state.signal_schema_marked and "schema" in setup.adopt:
        # Without adopt, an existing schema is only used (a USAGE grant), never dropped by teardown.
        require(owned_schema(signal_schema), f"schema {signal_schema}")
        add(
            f"adopt existing schema {signal_schema} (mark it as rds-cdc-setup's: teardown drops it once empty)",
            sql.comment_on("SCHEMA", signal_schema, marker("schema for the Streamkap signal and heartbeat tables")),
        )
    if not state.signal_schema_usage:
        require(not state.signal_schema_exists or owned_schema(signal_schema), f"schema {signal_schema}")
        add(f"grant USAGE on schema {signal_schema} to {role}", sql.grant_on_schema(["USAGE"], signal_schema, role))
    for table in own_tables:
        qualified_name = sql.qualified(signal_schema, table)
        table_marker = sql.comment_on("TABLE", qualified_name, marker(f"Streamkap {table.removeprefix('streamkap_')}"))
        if table not in state.own_tables:
            ddl = sql.create_signal_table if table == SIGNAL_TABLE else sql.create_heartbeat_table
            add(f"create table {signal_schema}.{table}", ddl(signal_schema), table_marker)
        elif ownership.adopts(f"table {signal_schema}.{table}", "tables", table in state.own_tables_marked):
            add(f"adopt existing table {signal_schema}.{table} (mark it as rds-cdc-setup's)", table_marker)
        privileges = [p for p in sql.TABLE_PRIVILEGES if p not in state.own_tables.get(table, frozenset())]
        if privileges:
            add(
                f"grant {', '.join(privileges)} on {signal_schema}.{table} to {role}",
                sql.grant_on_tables(privileges, [(signal_schema, table)], role),
            )

    identity_changes = _replica_identity_changes(state, setup, published)
    if setup.replica_identity == "full":
        for relation in identity_tables(state, published):
            if relation.breaks_update_delete:
                require(relation.owned, f"table {relation.qualified_name}")
    if setup.publication_mode == "tables":  # adding a table to a publication needs its ownership
        for relation in published:
            if relation.qualified_name not in state.publication_tables:
                require(relation.owned, f"table {relation.qualified_name}")
    changes.extend(_publication_changes(state, setup, server, published, own_tables, ownership))
    # Last: ALTER TABLE takes ACCESS EXCLUSIVE, which stops the application's reads and writes of the table
    # until ConfigureDatabase commits; here that is the ALTERs and the COMMIT, not also CREATE PUBLICATION
    # over every table (bench/live_load.py: 2.1 s of blocked writes at 10,000 tables before). One
    # transaction, so the publication never holds a table without its replica identity.
    changes.extend(identity_changes)
    ownership.raise_if_foreign()
    if not_permitted:
        listed = some(list(dict.fromkeys(not_permitted)))
        raise InsufficientPrivilege(
            f"The master user {server.current_user!r} cannot make the planned changes without owning (or being a "
            f"member of the owner of): {listed}. Grant the owning roles to the master user, narrow `tables`"
            + (" (publication_mode tables publishes only those)" if setup.publication_mode != "tables" else "")
            + ", or run with a user that owns them"
        )
    return changes


def _role_changes(
    state: CatalogState,
    setup: SetupInput,
    ownership: OwnershipCheck,
    master_username: str | None,
    secret_exists: bool,
    verifier: str,
) -> list[Change]:
    """The CDC group role and login: created and marked, or checked, adopted only on request, and
    a password set only where the workflow knows it (its secret) or was told to rotate it."""
    user, role = setup.user_name, setup.role_name
    changes: list[Change] = []
    if state.role is None:
        changes.append(
            Change(
                f"create role {role}",
                (sql.create_role(role), sql.comment_on("ROLE", role, marker("Streamkap CDC group role"))),
            )
        )
    else:
        check_role("role", role, state.role, master_username=master_username, allowed_members=(user,))
        if ownership.adopts(f"role {role}", "role", state.role.marked):
            changes.append(
                Change(
                    f"adopt existing role {role} (mark it as rds-cdc-setup's)",
                    (sql.comment_on("ROLE", role, marker("Streamkap CDC group role")),),
                )
            )
    user_marker_statement = sql.comment_on("ROLE", user, user_marker())
    if state.user is None:
        secret = "its existing secret" if secret_exists else "a new Secrets Manager secret"
        changes.append(
            Change(
                f"create user {user} (password in {secret})",
                (sql.create_user(user, verifier), user_marker_statement),
            )
        )
    else:
        check_role("user", user, state.user, master_username=master_username)
        adopting = ownership.adopts(f"user {user}", "user", state.user.marked)
        if adopting and "user" not in setup.adopt:
            return changes  # someone else's login: refused (raise_if_foreign), its password never considered
        if adopting:
            changes.append(
                Change(
                    f"adopt existing user {user} (mark it as rds-cdc-setup's; its password is kept unless "
                    "rotate_password)",
                    (user_marker_statement,),
                )
            )
        if setup.rotate_password:
            secret = "its existing secret" if secret_exists else "a new secret"
            changes.append(
                Change(
                    f"set the password of {user} to the one in {secret} (rotate_password; new logins with the old "
                    "password fail)",
                    (sql.set_user_password(user, verifier),),
                )
            )
        elif not secret_exists:
            raise InvalidInput(
                f"User {user} exists but its secret does not, so the workflow does not know its password and will "
                "not change it. Pass rotate_password: true to give it a new password (stored in a new secret; "
                f"anything still logging in with the old one stops working), or choose another user_name"
            )
        elif not state.user.can_login:
            changes.append(
                Change(
                    f"allow {user} to log in with the password in its secret", (sql.set_user_password(user, verifier),)
                )
            )
    if not state.user_in_role:
        changes.append(Change(f"grant {role} to {user}", (sql.grant_role(role, user),)))
    return changes


def identity_tables(state: CatalogState, published: list[Relation]) -> list[Relation]:
    """Every table whose UPDATE/DELETE the publication carries: the leaves of the captured ones and,
    for publication_mode schemas or all_tables, those it holds beyond them (state.outside_relations)."""
    tables = {r.qualified_name: r for r in leaf_tables(published, state)}
    for relation in state.outside_relations:
        tables.setdefault(relation.qualified_name, relation)
    return list(tables.values())


def lacking_identity(state: CatalogState, published: list[Relation]) -> list[Relation]:
    """The tables whose UPDATE and DELETE would fail once published: no primary key or replica identity."""
    return [r for r in identity_tables(state, published) if r.breaks_update_delete]


def _replica_identity_changes(state: CatalogState, setup: SetupInput, published: list[Relation]) -> list[Change]:
    if setup.replica_identity == "ignore":
        return []
    lacking = lacking_identity(state, published)
    if not lacking:
        return []
    names = [r.qualified_name for r in lacking]
    if setup.replica_identity == "check":
        scope = {
            "all_tables": " (publication_mode all_tables publishes every table of the database)",
            "schemas": f" (publication_mode schemas publishes every table of {', '.join(publication_schemas(setup))})",
        }.get(setup.publication_mode, "")
        raise ReplicaIdentityMissing(
            f"{len(names)} table(s) have no primary key or replica identity, so UPDATE and DELETE on "
            f"them would fail once published{scope}: {some(names)}. "
            "Add a primary key, or re-run with replica_identity 'full' (logs whole old rows) "
            "or 'ignore' (insert-only tables)"
        )
    # One change, applied in one round trip whatever the number of tables (see configure._configure).
    listed = some(names)
    return [
        Change(
            f"set REPLICA IDENTITY FULL on {listed}",
            tuple(sql.set_replica_identity_full(r.schema, r.name) for r in lacking),
        )
    ]


def _publication_changes(
    state: CatalogState,
    setup: SetupInput,
    server: ServerInfo,
    published: list[Relation],
    own_tables: list[str],
    ownership: OwnershipCheck,
) -> list[Change]:
    publication, mode = setup.publication_name, setup.publication_mode
    wanted = [(r.schema, r.name) for r in published] + [(setup.signal_table_schema, t) for t in own_tables]
    publication_marker = sql.comment_on("PUBLICATION", publication, marker("Streamkap CDC publication"))
    via_root = server.supports_partition_root
    if not state.publication_exists:
        if mode == "tables":
            return [
                Change(
                    f"create publication {publication} with {len(wanted)} tables",
                    (sql.create_publication(publication, wanted, via_root), publication_marker),
                )
            ]
        if mode == "all_tables":
            create = sql.create_all_tables_publication(publication, via_root)
            return [
                Change(
                    f"create publication {publication} FOR ALL TABLES (publication_mode all_tables: every table of "
                    f"database {state.database}, present and future; the tables CSV lists those of "
                    f"{', '.join(setup.schemas)})",
                    (create, publication_marker),
                    trial=create,
                )
            ]
        schemas = publication_schemas(setup)
        # The trial names the schemas that exist now (the signal schema may be created by this run):
        # PostgreSQL looks the schemas up before it checks the privilege.
        existing = [s for s in schemas if s in state.schemas]
        return [
            Change(
                f"create publication {publication} FOR TABLES IN SCHEMA {', '.join(schemas)} (publication_mode "
                "schemas: every table of these schemas, present and future; the signal schema's for the signal "
                "table)",
                (sql.create_schema_publication(publication, schemas, via_root), publication_marker),
                trial=sql.create_schema_publication(publication, existing, via_root),
            )
        ]
    changes: list[Change] = []
    if ownership.adopts(f"publication {publication}", "publication", state.publication_marked):
        if "publication" not in ownership.adopt:
            return []  # refused: someone else's publication is neither altered nor checked further
        changes.append(
            Change(f"adopt existing publication {publication} (mark it as rds-cdc-setup's)", (publication_marker,))
        )
    # publish_via_partition_root is left as it is: flipping it renames what a running connector receives.
    if state.publication_mode != mode:
        raise PublicationConflict(
            f"Publication {publication} exists as publication_mode {state.publication_mode} ("
            f"{MODE_CLAUSES[str(state.publication_mode)]}); this run asks for publication_mode {mode}. A publication "
            "is not switched in place (a connector may be reading it): keep publication_mode "
            f"{state.publication_mode}, or run teardown with drop_publication (it drops only the workflow's own "
            f"publication) and then setup with publication_mode {mode}"
        )
    if mode == "schemas":
        schemas = publication_schemas(setup)
        foreign = sorted(state.publication_schemas - set(schemas)) + sorted(
            t for t in state.publication_tables if t.partition(".")[0] not in schemas
        )
        if foreign:
            raise PublicationConflict(
                f"Publication {publication} already exists and holds schemas or tables this run would not publish: "
                f"{some(foreign)}. Use another publication_name, add those schemas to the input, or drop the "
                "publication"
            )
        missing_schemas = [s for s in schemas if s not in state.publication_schemas]
        if missing_schemas:
            add = sql.add_publication_schemas(publication, missing_schemas)
            present = [s for s in missing_schemas if s in state.schemas]
            changes.append(
                Change(
                    f"add schemas {', '.join(missing_schemas)} to publication {publication}",
                    (add,),
                    trial=sql.add_publication_schemas(publication, present) if present else None,
                )
            )
    elif mode == "tables":
        wanted_names = {f"{s}.{t}" for s, t in wanted}
        foreign = sorted(state.publication_tables - wanted_names)
        if foreign:
            raise PublicationConflict(
                f"Publication {publication} already exists and holds tables this run would not publish: "
                f"{some(foreign)}. Use another publication_name, add those tables to the input, "
                "or drop the publication"
            )
        missing = [(s, t) for s, t in wanted if f"{s}.{t}" not in state.publication_tables]
        if missing:
            changes.append(
                Change(
                    f"add {len(missing)} tables to publication {publication}",
                    (sql.add_publication_tables(publication, missing),),
                )
            )
    return changes


MODE_CLAUSES = {"tables": "FOR TABLE a list", "schemas": "FOR TABLES IN SCHEMA", "all_tables": "FOR ALL TABLES"}


def published_names(state: CatalogState, setup: SetupInput, server: ServerInfo) -> tuple[list[str], list[str]]:
    """(user tables as schema.table, everything the publication should hold)."""
    users = [r.qualified_name for r in tables_to_publish(state, setup, server)]
    return users, users + [f"{setup.signal_table_schema}.{t}" for t in setup.own_tables]
