"""ConfigureDatabase as a pure diff: from the catalog state and the input, the changes to
make. The same function gives Preflight's plan and ConfigureDatabase's statements."""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.dal import sql
from lambdas.dal.sql import HEARTBEAT_TABLE, SIGNAL_TABLE, CatalogState, Relation, ServerInfo
from lambdas.shared.errors import InsufficientPrivilege, InvalidInput, PublicationConflict, ReplicaIdentityMissing, some
from lambdas.shared.models import SetupInput

VERIFIER_PLACEHOLDER = "SCRAM-SHA-256$4096:planned$planned:planned"


@dataclass(frozen=True)
class Change:
    description: str
    statements: tuple[str, ...]


def tables_to_publish(state: CatalogState, setup: SetupInput, server: ServerInfo) -> list[Relation]:
    """The user tables the publication holds. PG13+: roots (publish_via_partition_root);
    PG10-12 cannot publish a partitioned table, so its leaf partitions instead."""
    by_oid = {r.oid: r for r in state.relations}
    by_name = {(r.schema, r.name): r for r in state.relations}
    own = {(setup.signal_table_schema, SIGNAL_TABLE), (setup.signal_table_schema, HEARTBEAT_TABLE)}
    if setup.table_pairs is None:
        chosen = [r for r in state.relations if not r.is_partition and (r.schema, r.name) not in own]
    else:
        missing = [f"{s}.{t}" for s, t in setup.table_pairs if (s, t) not in by_name]
        if missing:
            raise InvalidInput(f"Tables not found in database {state.database!r}: {some(missing)}")
        chosen = [by_name[pair] for pair in setup.table_pairs]
    if server.supports_partition_root:
        return chosen
    expanded: list[Relation] = []
    for relation in chosen:
        if relation.kind == "p":
            expanded.extend(by_oid[oid] for oid in state.partition_leaves.get(relation.oid, ()) if oid in by_oid)
        else:
            expanded.append(relation)
    return expanded


def leaf_tables(relations: list[Relation], state: CatalogState) -> list[Relation]:
    """Where rows really live: UPDATE/DELETE on these need a replica identity."""
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
    verifier: str = VERIFIER_PLACEHOLDER,
    password_is_new: bool = False,
) -> list[Change]:
    """Every change ConfigureDatabase would make, in order; [] on a ready database.
    Raises a named error, before anything is changed, when the input can't be satisfied."""
    absent = missing_schemas(state, setup)
    if absent:
        raise InvalidInput(f"Schemas not found in database {state.database!r}: {', '.join(absent)}")
    user, role, database = setup.user_name, setup.role_name, state.database
    signal_schema = setup.signal_table_schema
    changes: list[Change] = []
    not_permitted: list[str] = []  # what the master user would need to own for the planned changes

    def add(description: str, *statements: str) -> None:
        changes.append(Change(description, statements))

    def require(permitted: bool, what: str) -> None:
        if not permitted:
            not_permitted.append(what)

    def owned_schema(schema: str) -> bool:
        return state.owned_schemas is None or schema in state.owned_schemas

    if not state.role_exists:
        add(f"create role {role}", sql.create_role(role))
    if not state.user_exists:
        add(f"create user {user} (password in a new Secrets Manager secret)", sql.create_user(user, verifier))
    elif password_is_new or not state.user_can_login:
        add(f"set the password of existing user {user} (stored in a new secret)", sql.set_user_password(user, verifier))
    if not state.user_in_role:
        add(f"grant {role} to {user}", sql.grant_role(role, user))
    if changes:
        require(server.can_create_role, "the CREATEROLE privilege")
    if server.rds_replication_exists:
        if not state.role_in_rds_replication:
            add(f"grant rds_replication to {role}", sql.grant_role("rds_replication", role))
    elif not state.user_has_replication:
        add(f"give {user} the REPLICATION attribute (self-managed PostgreSQL)", sql.grant_replication_attribute(user))

    db_missing = [p for p in ("CONNECT", "CREATE") if p not in state.database_privileges]
    if db_missing:
        require(state.database_owned, f"database {database}")
        add(
            f"grant {', '.join(db_missing)} on database {database} to {role}",
            sql.grant_on_database(db_missing, database, role),
        )
    for schema in setup.schemas:
        schema_missing = [p for p in ("USAGE", "CREATE") if p not in state.schemas[schema]]
        if schema_missing:
            require(owned_schema(schema), f"schema {schema}")
            add(
                f"grant {', '.join(schema_missing)} on schema {schema} to {role}",
                sql.grant_on_schema(schema_missing, schema, role),
            )

    published = tables_to_publish(state, setup, server)
    if setup.table_pairs is None:
        for schema in setup.schemas:
            unselectable = [r for r in state.relations if r.schema == schema and not r.selectable]
            for relation in unselectable:
                require(relation.owned, f"table {relation.qualified_name}")
            if unselectable:
                add(
                    f"grant SELECT on all tables in schema {schema} to {role}",
                    sql.grant_select_all_tables(schema, role),
                )
            if schema not in state.default_select_schemas:
                add(
                    f"grant SELECT on tables created later in schema {schema} to {role}",
                    sql.default_select(schema, role),
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
        add(f"create schema {signal_schema}", sql.create_schema(signal_schema))
    if not state.signal_schema_usage:
        require(not state.signal_schema_exists or owned_schema(signal_schema), f"schema {signal_schema}")
        add(f"grant USAGE on schema {signal_schema} to {role}", sql.grant_on_schema(["USAGE"], signal_schema, role))
    for table in own_tables:
        if table not in state.own_tables:
            ddl = sql.create_signal_table if table == SIGNAL_TABLE else sql.create_heartbeat_table
            add(f"create table {signal_schema}.{table}", ddl(signal_schema))
        privileges = [p for p in sql.TABLE_PRIVILEGES if p not in state.own_tables.get(table, frozenset())]
        if privileges:
            add(
                f"grant {', '.join(privileges)} on {signal_schema}.{table} to {role}",
                sql.grant_on_tables(privileges, [(signal_schema, table)], role),
            )

    identity_changes = _replica_identity_changes(state, setup, published)
    if setup.replica_identity == "full":
        for relation in leaf_tables(published, state):
            if relation.breaks_update_delete:
                require(relation.owned, f"table {relation.qualified_name}")
    changes.extend(identity_changes)
    if not state.publication_all_tables:  # adding a table to a publication needs its ownership
        for relation in published:
            if relation.qualified_name not in state.publication_tables:
                require(relation.owned, f"table {relation.qualified_name}")
    changes.extend(_publication_changes(state, setup, server, published, own_tables))
    if not_permitted:
        unique = list(dict.fromkeys(not_permitted))
        listed = some(unique)
        raise InsufficientPrivilege(
            f"The master user {server.current_user!r} cannot make the planned changes without owning (or being a "
            f"member of the owner of): {listed}. Grant the owning roles to the master user, narrow `tables`, or "
            "run with a user that owns them"
        )
    return changes


def _replica_identity_changes(state: CatalogState, setup: SetupInput, published: list[Relation]) -> list[Change]:
    if setup.replica_identity == "ignore":
        return []
    lacking = [r for r in leaf_tables(published, state) if r.breaks_update_delete]
    if not lacking:
        return []
    names = [r.qualified_name for r in lacking]
    if setup.replica_identity == "check":
        raise ReplicaIdentityMissing(
            f"{len(names)} table(s) have no primary key or replica identity, so UPDATE and DELETE on "
            f"them would fail once published: {some(names)}. "
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
    state: CatalogState, setup: SetupInput, server: ServerInfo, published: list[Relation], own_tables: list[str]
) -> list[Change]:
    publication = setup.publication_name
    wanted = [(r.schema, r.name) for r in published] + [(setup.signal_table_schema, t) for t in own_tables]
    if not state.publication_exists:
        return [
            Change(
                f"create publication {publication} with {len(wanted)} tables",
                (sql.create_publication(publication, wanted, server.supports_partition_root),),
            )
        ]
    changes: list[Change] = []
    if not state.publication_all_tables:
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
    if server.supports_partition_root and not state.publication_via_root:
        changes.append(
            Change(
                f"set publish_via_partition_root on publication {publication}",
                (sql.set_publication_via_root(publication),),
            )
        )
    return changes


def published_names(state: CatalogState, setup: SetupInput, server: ServerInfo) -> tuple[list[str], list[str]]:
    """(user tables as schema.table, everything the publication should hold)."""
    users = [r.qualified_name for r in tables_to_publish(state, setup, server)]
    return users, users + [f"{setup.signal_table_schema}.{t}" for t in setup.own_tables]
