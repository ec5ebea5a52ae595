"""Every SQL statement the workflow runs, in one place.

Identifiers are quoted with pg8000's `identifier()`, values are parameters, and `literal()`
is used only where DDL cannot take parameters. Server-version differences live here."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from pg8000.native import identifier, literal

from lambdas.dal.database import Database
from lambdas.shared.errors import LongTransactionBlocking
from lambdas.shared.models import HEARTBEAT_TABLE, SIGNAL_TABLE
from lambdas.shared.ownership import is_marked, recorded_slots


def qualified(schema: str, table: str) -> str:
    return f"{identifier(schema)}.{identifier(table)}"


# ---- what the server is -------------------------------------------------------------


@dataclass(frozen=True)
class ServerInfo:
    version_num: int
    wal_level: str
    current_user: str
    is_superuser: bool
    is_rds_superuser: bool
    rds_replication_exists: bool
    max_replication_slots: int
    max_wal_senders: int
    replication_slots_used: int
    wal_senders_used: int = 0
    can_create_role: bool = True

    @property
    def major(self) -> int:
        return self.version_num // 10000

    @property
    def supports_partition_root(self) -> bool:
        # PG13+: publish_via_partition_root and partitioned tables in a publication; PG10-12
        # publish the leaf partitions instead.
        return self.major >= 13

    @property
    def supports_schema_publication(self) -> bool:
        return self.major >= 15  # FOR TABLES IN SCHEMA (publication_mode schemas)

    @property
    def pgoutput_proto_version(self) -> int:
        # 1: PG10-13, 2: PG14 (streaming), 3: PG15 (two-phase), 4: PG16+ (parallel streaming)
        return {14: 2, 15: 3}.get(self.major, 1 if self.major < 14 else 4)


def server_info(db: Database) -> ServerInfo:
    row = db.row(
        """
        SELECT current_setting('server_version_num')::int,
               current_setting('wal_level'),
               current_user::text,
               (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
               EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = 'rds_superuser'
                       AND pg_has_role(current_user, r.oid, 'member')),
               EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_replication'),
               current_setting('max_replication_slots')::int,
               current_setting('max_wal_senders')::int,
               (SELECT count(*)::int FROM pg_replication_slots),
               (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'walsender'),
               (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user)
        """
    )
    assert row is not None
    return ServerInfo(*row)


def wal_level(db: Database) -> str:
    return db.value("SELECT current_setting('wal_level')")


# ---- what already exists --------------------------------------------------------------


@dataclass(frozen=True)
class Relation:
    oid: int
    schema: str
    name: str
    kind: str  # r: table, p: partitioned table
    is_partition: bool
    has_primary_key: bool
    replica_identity: str  # d default, n nothing, f full, i index
    selectable: bool  # the CDC role may SELECT it
    owned: bool = True  # the master user may change it (owner, member of the owner, or superuser)
    owner: str = ""

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def breaks_update_delete(self) -> bool:
        """Published without a usable replica identity, UPDATE/DELETE on it would fail."""
        return self.kind == "r" and (
            self.replica_identity == "n" or (self.replica_identity == "d" and not self.has_primary_key)
        )


@dataclass(frozen=True)
class RoleState:
    """An existing role with a name the workflow uses (user_name or role_name): what decides
    whether the workflow may touch it (lambdas/logic/ownership.py)."""

    can_login: bool = False
    replication: bool = False
    superuser: bool = False
    rds_superuser: bool = False  # a member of rds_superuser
    connected_as: bool = False  # current_user or session_user: the master itself
    owned_objects: int = 0  # objects it owns, in any database
    members: tuple[str, ...] = ()  # roles that are members of it
    comment: str = ""  # the workflow's marker, or someone else's comment

    @property
    def marked(self) -> bool:
        return is_marked(self.comment)


@dataclass(frozen=True)
class CatalogState:
    database: str
    user: RoleState | None = None  # None: no role named user_name
    role: RoleState | None = None
    user_in_role: bool = False
    role_in_rds_replication: bool = False
    database_privileges: frozenset[str] = frozenset()  # CONNECT the role has (directly or through PUBLIC)
    database_create_granted: bool = False  # CREATE granted to the role itself (to revoke)
    schemas: dict[str, frozenset[str]] = field(default_factory=dict)  # existing schema -> role's privileges
    schemas_create_granted: frozenset[str] = frozenset()  # schemas where CREATE is granted to the role itself
    default_select: frozenset[tuple[str, str]] = frozenset()  # (owner, schema): SELECT on its future tables
    relations: tuple[Relation, ...] = ()  # tables in the requested schemas, with partitions
    partition_leaves: dict[int, tuple[int, ...]] = field(default_factory=dict)  # root oid -> leaf oids
    signal_schema_exists: bool = False
    signal_schema_usage: bool = False
    signal_schema_marked: bool = False
    own_tables: dict[str, frozenset[str]] = field(default_factory=dict)  # signal/heartbeat -> privileges
    own_tables_marked: frozenset[str] = frozenset()
    publication_exists: bool = False
    publication_all_tables: bool = False
    publication_via_root: bool = False
    publication_tables: frozenset[str] = frozenset()  # schema.table explicitly in it
    publication_schemas: frozenset[str] = frozenset()  # PG15+: its FOR TABLES IN SCHEMA schemas
    publication_marked: bool = False
    database_owned: bool = True  # the master user may grant on the database
    owned_schemas: frozenset[str] | None = None  # None: all (synthetic states in unit tests)
    # Tables a schemas or all_tables publication holds beyond the captured schemas (all_tables: every
    # other schema's but the system ones; schemas: the signal schema's): their UPDATE/DELETE are
    # published too, so they need a replica identity. Empty for publication_mode tables.
    outside_relations: tuple[Relation, ...] = ()

    @property
    def publication_mode(self) -> str | None:
        """How the existing publication names its tables (publication_mode's words); None: none exists."""
        if not self.publication_exists:
            return None
        if self.publication_all_tables:
            return "all_tables"
        return "schemas" if self.publication_schemas else "tables"


TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE")


def read_setup_catalog(
    db: Database,
    *,
    database: str,
    user: str,
    role: str,
    schemas: list[str],
    signal_schema: str,
    publication: str,
    server: ServerInfo,
    publication_mode: str = "tables",
) -> CatalogState:
    """Read everything ConfigureDatabase could change: a fixed number of queries,
    whatever the number of tables."""
    roles = role_states(db, [user, role])
    memberships = {
        (member, group)
        for member, group in db.rows(
            """SELECT m.rolname::text, g.rolname::text FROM pg_auth_members am
               JOIN pg_roles m ON m.oid = am.member JOIN pg_roles g ON g.oid = am.roleid
               WHERE m.rolname IN (:u, :r)""",
            u=user,
            r=role,
        )
    }
    role_exists = role in roles
    privilege_role = role if role_exists else current_user_placeholder(db)

    # CREATE granted to the role itself (aclexplode): PUBLIC's CREATE on `public` (PG10-14) is the
    # database's own setting, not something a REVOKE from the role could change.
    connect, create_granted, database_owned = db.row(
        """SELECT has_database_privilege(:r, d.oid, 'CONNECT'),
                  EXISTS (SELECT 1 FROM aclexplode(d.datacl) a JOIN pg_roles g ON g.oid = a.grantee
                          WHERE g.rolname = :r AND a.privilege_type = 'CREATE'),
                  pg_has_role(current_user, d.datdba, 'USAGE')
           FROM pg_database d WHERE d.datname = :d""",
        r=privilege_role,
        d=database,
    ) or (False, False, False)
    database_privileges = frozenset({"CONNECT"} if connect and role_exists else ())
    schema_rows = db.rows(
        """SELECT n.nspname::text, has_schema_privilege(:r, n.oid, 'USAGE'),
                  EXISTS (SELECT 1 FROM aclexplode(n.nspacl) a JOIN pg_roles g ON g.oid = a.grantee
                          WHERE g.rolname = :r AND a.privilege_type = 'CREATE'),
                  pg_has_role(current_user, n.nspowner, 'USAGE'),
                  coalesce(obj_description(n.oid, 'pg_namespace'), '')
           FROM pg_namespace n WHERE n.nspname = ANY(CAST(:s AS text[]))""",
        r=privilege_role,
        s=list({*schemas, signal_schema}),
    )
    schema_privileges = {
        name: frozenset({"USAGE"} if usage and role_exists else ()) for name, usage, _, _, _ in schema_rows
    }
    schemas_create_granted = frozenset(name for name, _, create, _, _ in schema_rows if create and role_exists)
    owned_schemas = frozenset(name for name, _, _, owned, _ in schema_rows if owned)
    schema_comments = {name: comment for name, _, _, _, comment in schema_rows}
    default_select = (
        frozenset(
            (owner, schema)
            for owner, schema in db.rows(
                """SELECT o.rolname::text, n.nspname::text FROM pg_default_acl d
               JOIN pg_namespace n ON n.oid = d.defaclnamespace
               JOIN pg_roles o ON o.oid = d.defaclrole
               CROSS JOIN LATERAL aclexplode(d.defaclacl) a
               JOIN pg_roles g ON g.oid = a.grantee
               WHERE d.defaclobjtype = 'r' AND a.privilege_type = 'SELECT' AND g.rolname = :r
                 AND n.nspname = ANY(CAST(:s AS text[]))""",
                r=role,
                s=schemas,
            )
        )
        if role_exists
        else frozenset()
    )

    relations = read_relations(db, privilege_role, role_exists, "n.nspname = ANY(CAST(:s AS text[]))", s=schemas)
    outside: tuple[Relation, ...] = ()
    if publication_mode == "all_tables":
        # What FOR ALL TABLES publishes (is_publishable_class): permanent user tables of any schema.
        outside = read_relations(
            db,
            privilege_role,
            role_exists,
            """NOT n.nspname = ANY(CAST(:s AS text[])) AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
               AND c.relkind = 'r' AND c.relpersistence = 'p' AND c.oid >= 16384""",
            s=schemas,
        )
    elif publication_mode == "schemas" and signal_schema not in schemas:
        outside = read_relations(
            db, privilege_role, role_exists, "n.nspname = :signal AND c.relkind = 'r'", signal=signal_schema
        )
    leaves: dict[int, list[int]] = {}
    for root, leaf in db.value(
        """WITH RECURSIVE tree(root, child) AS (
               SELECT i.inhparent, i.inhrelid FROM pg_inherits i
               JOIN pg_class p ON p.oid = i.inhparent AND p.relkind = 'p'
               JOIN pg_namespace n ON n.oid = p.relnamespace AND n.nspname = ANY(CAST(:s AS text[]))
             UNION ALL
               SELECT t.root, i.inhrelid FROM tree t JOIN pg_inherits i ON i.inhparent = t.child)
           SELECT coalesce(json_agg(json_build_array(t.root::int, t.child::int)), '[]')
           FROM tree t JOIN pg_class c ON c.oid = t.child
           WHERE c.relkind = 'r'""",
        s=schemas,
    ):
        leaves.setdefault(root, []).append(leaf)

    own_table_rows = db.rows(
        """SELECT c.relname::text, has_table_privilege(:r, c.oid, 'SELECT'),
                  has_table_privilege(:r, c.oid, 'INSERT'), has_table_privilege(:r, c.oid, 'UPDATE'),
                  coalesce(obj_description(c.oid, 'pg_class'), '')
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = :s AND c.relname IN (:sig, :hb) AND c.relkind = 'r'""",
        r=privilege_role,
        s=signal_schema,
        sig=SIGNAL_TABLE,
        hb=HEARTBEAT_TABLE,
    )
    own_tables = {
        name: frozenset(p for p, ok in zip(TABLE_PRIVILEGES, (sel, ins, upd), strict=True) if ok and role_exists)
        for name, sel, ins, upd, _ in own_table_rows
    }
    via_root_column = "p.pubviaroot" if server.supports_partition_root else "false"
    publication_row = db.row(
        f"""SELECT p.puballtables, {via_root_column}, coalesce(obj_description(p.oid, 'pg_publication'), '')
            FROM pg_publication p WHERE p.pubname = :p""",
        p=publication,
    )
    publication_tables = frozenset(
        db.value(
            """SELECT coalesce(json_agg(n.nspname || '.' || c.relname), '[]') FROM pg_publication_rel pr
               JOIN pg_publication p ON p.oid = pr.prpubid
               JOIN pg_class c ON c.oid = pr.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE p.pubname = :p""",
            p=publication,
        )
    )
    publication_schemas: frozenset[str] = frozenset()
    if server.supports_schema_publication:
        publication_schemas = frozenset(
            db.value(
                """SELECT coalesce(json_agg(n.nspname::text), '[]') FROM pg_publication_namespace pn
                   JOIN pg_publication p ON p.oid = pn.pnpubid JOIN pg_namespace n ON n.oid = pn.pnnspid
                   WHERE p.pubname = :p""",
                p=publication,
            )
        )
    return CatalogState(
        database=database,
        user=roles.get(user),
        role=roles.get(role),
        user_in_role=(user, role) in memberships,
        role_in_rds_replication=(role, "rds_replication") in memberships,
        database_privileges=database_privileges,
        database_create_granted=bool(create_granted) and role_exists,
        schemas=schema_privileges,
        schemas_create_granted=schemas_create_granted,
        default_select=default_select,
        relations=relations,
        partition_leaves={root: tuple(children) for root, children in leaves.items()},
        signal_schema_exists=signal_schema in schema_privileges,
        signal_schema_usage="USAGE" in schema_privileges.get(signal_schema, frozenset()),
        signal_schema_marked=is_marked(schema_comments.get(signal_schema)),
        own_tables=own_tables,
        own_tables_marked=frozenset(name for name, *_, comment in own_table_rows if is_marked(comment)),
        publication_exists=publication_row is not None,
        publication_all_tables=bool(publication_row and publication_row[0]),
        publication_via_root=bool(publication_row and publication_row[1]),
        publication_tables=publication_tables,
        publication_schemas=publication_schemas,
        publication_marked=bool(publication_row and is_marked(publication_row[2])),
        database_owned=bool(database_owned),
        owned_schemas=owned_schemas,
        outside_relations=outside,
    )


def read_relations(
    db: Database, privilege_role: str, role_exists: bool, where: str, **params: str | list[str]
) -> tuple[Relation, ...]:
    """Tables and partitioned tables matching `where` (over pg_class c, pg_namespace n)."""
    # Per-table lists come back as one JSON value: parsed in C, several times faster than
    # one row per table at 10,000 tables (bench/db_setup.py).
    return tuple(
        Relation(
            oid, schema, name, kind, is_partition, has_pk, replident, bool(selectable) and role_exists, owned, owner
        )
        for oid, schema, name, kind, is_partition, has_pk, replident, selectable, owned, owner in db.value(
            f"""SELECT coalesce(json_agg(json_build_array(
                      c.oid::int, n.nspname::text, c.relname::text, c.relkind::text, c.relispartition,
                      EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),
                      c.relreplident::text, has_table_privilege(:r, c.oid, 'SELECT'),
                      pg_has_role(current_user, c.relowner, 'USAGE'), pg_get_userbyid(c.relowner)::text)
                      ORDER BY n.nspname, c.relname), '[]')
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p') AND {where}""",
            r=privilege_role,
            **params,
        )
    )


def role_states(db: Database, names: list[str]) -> dict[str, RoleState]:
    """The existing roles among `names`, with what decides whether the workflow may touch them."""
    return {
        name: RoleState(login, replication, superuser, rds_superuser, connected_as, owned, tuple(members), comment)
        for name, login, replication, superuser, rds_superuser, connected_as, owned, members, comment in db.rows(
            """SELECT r.rolname::text, r.rolcanlogin, r.rolreplication, r.rolsuper,
                      EXISTS (SELECT 1 FROM pg_roles s WHERE s.rolname = 'rds_superuser'
                              AND pg_has_role(r.oid, s.oid, 'MEMBER')),
                      r.rolname IN (current_user, session_user),
                      (SELECT count(*)::int FROM pg_shdepend d
                       WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = r.oid AND d.deptype = 'o'),
                      ARRAY(SELECT m.rolname::text FROM pg_auth_members am JOIN pg_roles m ON m.oid = am.member
                            WHERE am.roleid = r.oid ORDER BY 1),
                      coalesce(shobj_description(r.oid, 'pg_authid'), '')
               FROM pg_roles r WHERE r.rolname = ANY(CAST(:n AS text[]))""",
            n=names,
        )
    }


def current_user_placeholder(db: Database) -> str:
    """Privilege functions need an existing role; before ours exists, ask about the
    master user and ignore the answers (every privilege counts as missing)."""
    return db.value("SELECT current_user::text")


# ---- statements ConfigureDatabase may run -------------------------------------------------


def create_role(role: str) -> str:
    return f"CREATE ROLE {identifier(role)} NOLOGIN"


def create_user(user: str, verifier: str) -> str:
    # A SCRAM verifier, never the cleartext: a server that logs DDL must not see the password.
    return f"CREATE ROLE {identifier(user)} LOGIN PASSWORD {literal(verifier)}"


def set_user_password(user: str, verifier: str) -> str:
    return f"ALTER ROLE {identifier(user)} LOGIN PASSWORD {literal(verifier)}"


def grant_role(role: str, to: str) -> str:
    return f"GRANT {identifier(role)} TO {identifier(to)}"


def grant_replication_attribute(user: str) -> str:
    # Role attributes are not inherited, so self-managed PostgreSQL needs it on the user itself.
    return f"ALTER ROLE {identifier(user)} REPLICATION"


def grant_on_database(privileges: list[str], database: str, role: str) -> str:
    return f"GRANT {', '.join(privileges)} ON DATABASE {identifier(database)} TO {identifier(role)}"


def grant_on_schema(privileges: list[str], schema: str, role: str) -> str:
    return f"GRANT {', '.join(privileges)} ON SCHEMA {identifier(schema)} TO {identifier(role)}"


def grant_select_all_tables(schema: str, role: str) -> str:
    return f"GRANT SELECT ON ALL TABLES IN SCHEMA {identifier(schema)} TO {identifier(role)}"


def grant_on_tables(privileges: list[str], tables: list[tuple[str, str]], role: str) -> str:
    names = ", ".join(qualified(s, t) for s, t in tables)
    return f"GRANT {', '.join(privileges)} ON TABLE {names} TO {identifier(role)}"


def default_select(owner: str, schema: str, role: str) -> str:
    return (
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {identifier(owner)} IN SCHEMA {identifier(schema)} "
        f"GRANT SELECT ON TABLES TO {identifier(role)}"
    )


def revoke_create_on_database(database: str, role: str) -> str:
    return f"REVOKE CREATE ON DATABASE {identifier(database)} FROM {identifier(role)}"


def revoke_create_on_schema(schema: str, role: str) -> str:
    return f"REVOKE CREATE ON SCHEMA {identifier(schema)} FROM {identifier(role)}"


def comment_on(kind: str, name: str, comment: str) -> str:
    """kind: ROLE, SCHEMA, PUBLICATION (name an identifier) or TABLE (name already qualified)."""
    target = name if kind == "TABLE" else identifier(name)
    return f"COMMENT ON {kind} {target} IS {literal(comment)}"


def role_comment(db: Database, role: str) -> str:
    return (
        db.value("SELECT coalesce(shobj_description(oid, 'pg_authid'), '') FROM pg_roles WHERE rolname = :r", r=role)
        or ""
    )


def create_schema(schema: str) -> str:
    return f"CREATE SCHEMA {identifier(schema)}"


def create_signal_table(schema: str) -> str:
    # The seed's DDL lacks the id column and a closing parenthesis; this is the corrected one.
    return (
        f"CREATE TABLE {qualified(schema, SIGNAL_TABLE)} (id VARCHAR(255) PRIMARY KEY, "
        "type VARCHAR(32) NOT NULL, data VARCHAR(2000) NULL)"
    )


def create_heartbeat_table(schema: str) -> str:
    return (
        f"CREATE TABLE {qualified(schema, HEARTBEAT_TABLE)} (id SMALLINT PRIMARY KEY, "
        "ts TIMESTAMPTZ NOT NULL DEFAULT now())"
    )


def create_publication(publication: str, tables: list[tuple[str, str]], via_root: bool) -> str:
    names = ", ".join(qualified(s, t) for s, t in tables)
    options = " WITH (publish_via_partition_root = true)" if via_root else ""
    return f"CREATE PUBLICATION {identifier(publication)} FOR TABLE {names}{options}"


def create_schema_publication(publication: str, schemas: list[str], via_root: bool) -> str:
    """publication_mode schemas (PG15+): every table of the schemas, now and later."""
    names = ", ".join(identifier(s) for s in schemas)
    options = " WITH (publish_via_partition_root = true)" if via_root else ""
    return f"CREATE PUBLICATION {identifier(publication)} FOR TABLES IN SCHEMA {names}{options}"


def create_all_tables_publication(publication: str, via_root: bool) -> str:
    """publication_mode all_tables: every table of the database, now and later."""
    options = " WITH (publish_via_partition_root = true)" if via_root else ""
    return f"CREATE PUBLICATION {identifier(publication)} FOR ALL TABLES{options}"


def add_publication_schemas(publication: str, schemas: list[str]) -> str:
    return (
        f"ALTER PUBLICATION {identifier(publication)} ADD TABLES IN SCHEMA {', '.join(identifier(s) for s in schemas)}"
    )


def publication_size(db: Database, publication: str) -> int:
    """How many tables the publication holds, as pg_publication_tables (and so Verify) counts them."""
    return db.value("SELECT count(*)::int FROM pg_publication_tables WHERE pubname = :p", p=publication)


def add_publication_tables(publication: str, tables: list[tuple[str, str]]) -> str:
    names = ", ".join(qualified(s, t) for s, t in tables)
    return f"ALTER PUBLICATION {identifier(publication)} ADD TABLE {names}"


def set_replica_identity_full(schema: str, table: str) -> str:
    return f"ALTER TABLE {qualified(schema, table)} REPLICA IDENTITY FULL"


# ---- the replication slot -----------------------------------------------------------------


@dataclass(frozen=True)
class Blocker:
    """A transaction that holds a transaction id: slot creation waits for it to end."""

    pid: int | None  # None: a prepared transaction, which no session holds
    database: str | None
    user: str | None
    state: str | None
    age_seconds: int
    gid: str | None = None

    def __str__(self) -> str:
        who = f"pid {self.pid}" if self.pid is not None else f"prepared transaction {self.gid!r}"
        return f"{who} ({self.user or '?'} on {self.database or '?'}, {self.state or 'prepared'}, {self.age_seconds}s)"


def lock_holders(db: Database) -> list[str]:
    """Sessions holding table locks in this database: who a lock timeout waited for."""
    return [
        f"pid {pid} ({user}, {state}, {mode} on {relation})"
        for pid, user, state, mode, relation in db.rows(
            """SELECT l.pid, a.usename::text, a.state, l.mode, l.relation::regclass::text
               FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
               WHERE l.granted AND l.locktype = 'relation' AND l.pid <> pg_backend_pid()
                 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 AND l.relation::regclass::text !~ '^pg_'
               ORDER BY a.xact_start LIMIT 10"""
        )
    ]


def gave_up_waiting(
    db: Database, step: str, timeout_ms: int, cause: Exception, outcome: str
) -> LongTransactionBlocking:
    """The refusal after a lock_timeout: who held the locks, and what the step left (`outcome`)."""
    holders = "; ".join(lock_holders(db)) or "none left"
    return LongTransactionBlocking(
        f"{step} gave up after {timeout_ms} ms waiting for a lock ({cause}) rather than queue production queries "
        f"behind it; {outcome}. Sessions holding table locks: {holders}. Let them finish, then start it again"
    )


def slot_blockers(db: Database, min_age_seconds: int) -> list[Blocker]:
    """Write transactions open for at least `min_age_seconds`, and every prepared transaction."""
    sessions = db.rows(
        """SELECT pid, datname::text, usename::text, state, floor(extract(epoch FROM now() - xact_start))::int
           FROM pg_stat_activity
           WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
             AND xact_start <= now() - make_interval(secs => :age)
           ORDER BY xact_start""",
        age=min_age_seconds,
    )
    prepared = db.rows(
        """SELECT gid, database::text, owner::text, floor(extract(epoch FROM now() - prepared))::int
           FROM pg_prepared_xacts ORDER BY prepared"""
    )
    return [Blocker(*row) for row in sessions] + [
        Blocker(None, database, owner, None, age, gid) for gid, database, owner, age in prepared
    ]


@dataclass(frozen=True)
class SlotInfo:
    plugin: str | None
    slot_type: str
    database: str | None
    active: bool
    wal_status: str | None = None  # PG13+: 'lost' once max_slot_wal_keep_size let its WAL be removed
    retained_bytes: int | None = None  # WAL from its restart_lsn to the current position (None: no restart_lsn)
    safe_wal_size: int | None = None  # PG13+: bytes that may still be written before it is lost (None: unbounded)
    inactive_since: str | None = None  # PG17+: when it last stopped being streamed from (None: active, or < 17)
    failover: bool | None = None  # PG17+: synced to standbys running sync_replication_slots; None before 17


def slot(db: Database, name: str) -> SlotInfo | None:
    # to_jsonb(s)->>'<column>': wal_status and safe_wal_size exist from PG13 on, inactive_since and
    # failover from PG17 on; the query runs on every version.
    row = db.row(
        """SELECT plugin::text, slot_type, database::text, active, to_jsonb(s) ->> 'wal_status',
                  pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint,
                  (to_jsonb(s) ->> 'safe_wal_size')::bigint, to_jsonb(s) ->> 'inactive_since',
                  (to_jsonb(s) ->> 'failover')::boolean
           FROM pg_replication_slots s WHERE slot_name = :s""",
        s=name,
    )
    return SlotInfo(*row) if row else None


def slot_holder(db: Database, name: str) -> int | None:
    """The pid of the session holding the slot (a reader, or the session still creating it)."""
    return db.value("SELECT active_pid FROM pg_replication_slots WHERE slot_name = :s", s=name)


def set_local_lock_timeout(db: Database, timeout_ms: int) -> None:
    db.execute(f"SET LOCAL lock_timeout = {int(timeout_ms)}")


def create_slot(db: Database, name: str, timeout_ms: int, *, failover: bool = False) -> None:
    # Outside any write transaction: slot creation waits for running write transactions to end.
    # Same call on PG10-17. `failover` (17+, input failover_slot; the argument does not exist before
    # 17, Preflight refuses there) syncs the slot to a physical standby running sync_replication_slots
    # (an RDS read replica: AWS "Managing logical slot synchronization for RDS for PostgreSQL"); a
    # Multi-AZ instance's standby is a storage replica and keeps the slot without it.
    # No two-phase (14+): pgoutput clients ask per stream.
    db.execute(f"SET lock_timeout = {int(timeout_ms)}")
    db.execute(f"SET statement_timeout = {int(timeout_ms)}")
    try:
        if failover:  # (slot_name, plugin, temporary, twophase, failover)
            db.execute("SELECT pg_create_logical_replication_slot(:s, 'pgoutput', false, false, true)", s=name)
        else:
            db.execute("SELECT pg_create_logical_replication_slot(:s, 'pgoutput')", s=name)
    finally:
        if db.usable:  # a lost connection keeps nothing to reset; trying would hide why it was lost
            db.execute("RESET statement_timeout")
            db.execute("RESET lock_timeout")


def set_slot_failover(replication: Database, name: str) -> None:
    """Turn on an existing slot's failover property (PG17+). PostgreSQL offers no SQL function for
    it, only the replication-protocol command ALTER_REPLICATION_SLOT, so `replication` is a
    connection opened with replication=database (Database.connect(replication=True)). It fails with
    SQLSTATE 55006 while a process streams the slot."""
    replication.replication_command(f"ALTER_REPLICATION_SLOT {identifier(name)} ( FAILOVER true )")


@dataclass(frozen=True)
class StandbySlots:
    """What a failover slot's synchronisation depends on, as the primary sees it (PG17+)."""

    physical_slots: tuple[str, ...]  # physical standbys' slots (on RDS: its read replicas')
    synchronized_standby_slots: str  # '' when unset: the connector may run ahead of every standby
    sync_database_exists: bool  # 'postgres', the default rds.logical_slot_sync_dbname, exists


def standby_slots(db: Database) -> StandbySlots:
    physical, synced, postgres = db.one(
        """SELECT coalesce(array_agg(slot_name::text ORDER BY slot_name)
                           FILTER (WHERE slot_type = 'physical'), '{}'),
                  coalesce(current_setting('synchronized_standby_slots', true), ''),
                  EXISTS (SELECT 1 FROM pg_database WHERE datname = 'postgres')
           FROM pg_replication_slots"""
    )
    return StandbySlots(tuple(physical), synced, bool(postgres))


def session_alive(db: Database, pid: int) -> bool:
    return bool(db.value("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = :p)", p=pid))


def end_own_session(db: Database, pid: int, wait_seconds: int = 3) -> bool:
    """End a session of the current user (one whose client is gone, its statement still running)
    and wait, bounded, until it has exited: a slot it was creating is then gone or complete.
    False: no such session of ours (it had ended already)."""
    ended = db.value(
        """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE pid = :p AND usename = current_user AND pid <> pg_backend_pid()""",
        p=pid,
    )
    if not ended:
        return False
    db.execute(
        f"""DO $$ BEGIN
              FOR i IN 1..{int(wait_seconds) * 20} LOOP
                EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = {int(pid)});
                PERFORM pg_sleep(0.05);
              END LOOP;
            END $$"""
    )
    return True


# ---- verification (as the CDC user) ----------------------------------------------------------


def published_tables(db: Database, publication: str) -> set[str]:
    return set(
        db.value(
            "SELECT coalesce(json_agg(schemaname || '.' || tablename), '[]') FROM pg_publication_tables "
            "WHERE pubname = :p",
            p=publication,
        )
    )


@dataclass(frozen=True)
class Heartbeat:
    table_oid: int | None  # the heartbeat table's change, found by its relation in a peek
    lsn: str  # WAL position inside the heartbeat's transaction: its commit ends past it
    message: bytes | None = None  # a logical message's prefix and content instead (heartbeat "message")


def emit_heartbeat_message(db: Database, prefix: str, content: str) -> Heartbeat:
    """A transactional logical message (PostgreSQL 14+ passes it through pgoutput): a heartbeat without a table."""
    lsn = db.value("SELECT pg_logical_emit_message(true, :prefix, :content)::text", prefix=prefix, content=content)
    return Heartbeat(table_oid=None, lsn=lsn, message=message_body(prefix, content))


def message_body(prefix: str, content: str) -> bytes:
    """How pgoutput writes a message's prefix and content: the prefix NUL-terminated, the content length-prefixed."""
    data = content.encode()
    return prefix.encode() + b"\0" + struct.pack("!I", len(data)) + data


def write_heartbeat(db: Database, schema: str) -> Heartbeat:
    """Upsert the one heartbeat row (one committed transaction)."""
    table = qualified(schema, HEARTBEAT_TABLE)
    row = db.row(
        f"INSERT INTO {table} (id, ts) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET ts = now() "
        "RETURNING tableoid::int, pg_current_wal_insert_lsn()::text"
    )
    assert row is not None
    return Heartbeat(*row)


def current_wal_lsn(db: Database) -> str:
    return db.value("SELECT pg_current_wal_insert_lsn()::text")


@dataclass(frozen=True)
class SlotProgress:
    """Where a slot's reader stands against a WAL position (pg_replication_slots, read live)."""

    active: bool
    pid: int | None
    confirmed_flush_lsn: str | None
    lag_bytes: int | None  # from confirmed_flush_lsn up to the position; <= 0 once confirmed past it

    @property
    def confirmed(self) -> bool:
        return self.lag_bytes is not None and self.lag_bytes <= 0


def slot_progress(db: Database, name: str, lsn: str) -> SlotProgress | None:
    row = db.row(
        """SELECT active, active_pid, confirmed_flush_lsn::text,
                  pg_wal_lsn_diff(CAST(:lsn AS pg_lsn), confirmed_flush_lsn)::bigint
           FROM pg_replication_slots WHERE slot_name = :s""",
        s=name,
        lsn=lsn,
    )
    return SlotProgress(*row) if row else None


def slot_reader(db: Database, name: str) -> int | None:
    """The process streaming from the slot of this name in this database, if one is."""
    return db.value(
        """SELECT active_pid FROM pg_replication_slots
           WHERE slot_name = :s AND active AND database = current_database()""",
        s=name,
    )


# A logical message's first bytes: 'M', flags, its LSN (8 bytes), then prefix and content (message_body).
MESSAGE_HEADER_BYTES = 10
MESSAGE_PEEK_BYTES = 128


def peek_slot(
    db: Database,
    *,
    slot_name: str,
    publication: str,
    proto_version: int,
    max_changes: int,
    timeout_ms: int,
    messages: bool = False,
) -> list[bytes]:
    """A bounded peek: at most `max_changes` changes under a statement timeout. Never consumes.
    Only each change's first 5 bytes (message type, relation oid) come back, and at most
    `max_changes` of them: upto_nchanges ends at a transaction's end, so one huge transaction
    would otherwise send all its rows to the Lambda (bench/wal_backlog.py). `messages` (PostgreSQL
    14+): logical messages too, each with its first MESSAGE_PEEK_BYTES (the heartbeat's prefix and content)."""
    db.execute(f"SET statement_timeout = {int(timeout_ms)}")
    options = ", 'messages', 'true'" if messages else ""
    rows = db.rows(
        f"""SELECT CASE WHEN get_byte(data, 0) = 77 THEN substr(data, 1, {MESSAGE_PEEK_BYTES})
                        ELSE substr(data, 1, 5) END
            FROM pg_logical_slot_peek_binary_changes(
               :slot, NULL, :n, 'proto_version', :v, 'publication_names', :p{options}) LIMIT :n""",
        slot=slot_name,
        n=max_changes,
        v=str(proto_version),
        p=identifier(publication),
    )
    db.execute("RESET statement_timeout")
    return [bytes(row[0]) for row in rows]


# ==== teardown (statemachine/cdc_teardown.asl.json) =============================================


@dataclass(frozen=True)
class TeardownCatalog:
    """What the teardown steps could remove, read as the master user."""

    current_user: str
    is_superuser: bool
    slot: SlotInfo | None
    slot_pid: int | None  # the backend reading the slot, when active
    other_logical_slots: tuple[str, ...]  # on the whole server: they need wal_level=logical too
    publication_exists: bool
    own_tables: tuple[str, ...]  # signal/heartbeat tables present in the signal schema
    signal_schema_exists: bool
    signal_schema_other_objects: int  # relations, functions, types besides ours
    roles: tuple[str, ...]  # which of (user, role) exist, in that order
    roles_usable: tuple[str, ...]  # those the current user has the privileges of (REASSIGN/DROP OWNED)
    role_states: dict[str, RoleState] = field(default_factory=dict)  # the existing ones of (user, role)
    slot_recorded: bool = False  # the user's marker records the slot (in this database)
    publication_marked: bool = False
    own_tables_marked: tuple[str, ...] = ()
    signal_schema_marked: bool = False


def read_teardown_catalog(
    db: Database, *, slot_name: str, publication: str, signal_schema: str, user: str, role: str
) -> TeardownCatalog:
    current_user, is_superuser = db.one(
        "SELECT current_user::text, rolsuper FROM pg_roles WHERE rolname = current_user"
    )
    found = db.row(
        """SELECT plugin::text, slot_type, database::text, active, active_pid
           FROM pg_replication_slots WHERE slot_name = :s""",
        s=slot_name,
    )
    others = db.rows(
        "SELECT slot_name::text FROM pg_replication_slots WHERE slot_type = 'logical' AND slot_name <> :s ORDER BY 1",
        s=slot_name,
    )
    own = db.rows(
        """SELECT c.relname::text, coalesce(obj_description(c.oid, 'pg_class'), '')
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = :s AND c.relname IN (:sig, :hb) AND c.relkind = 'r' ORDER BY 1""",
        s=signal_schema,
        sig=SIGNAL_TABLE,
        hb=HEARTBEAT_TABLE,
    )
    schema_exists, other_objects, schema_comment = db.one(
        """SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = :s),
                  (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = :s AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
                     AND c.relname NOT IN (:sig, :hb))
                + (SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname = :s),
                  (SELECT coalesce(obj_description(oid, 'pg_namespace'), '') FROM pg_namespace WHERE nspname = :s)""",
        s=signal_schema,
        sig=SIGNAL_TABLE,
        hb=HEARTBEAT_TABLE,
    )
    roles = db.rows(
        """SELECT rolname::text, pg_has_role(current_user, oid, 'USAGE') FROM pg_roles
           WHERE rolname IN (:u, :r) ORDER BY rolname <> :u""",
        u=user,
        r=role,
    )
    publication_comment = db.value(
        "SELECT coalesce(obj_description(oid, 'pg_publication'), '') FROM pg_publication WHERE pubname = :p",
        p=publication,
    )
    states = role_states(db, [user, role])
    user_comment = states[user].comment if user in states else ""
    return TeardownCatalog(
        current_user=current_user,
        is_superuser=is_superuser,
        slot=SlotInfo(*found[:4]) if found else None,
        slot_pid=found[4] if found else None,
        other_logical_slots=tuple(row[0] for row in others),
        publication_exists=publication_comment is not None,
        own_tables=tuple(row[0] for row in own),
        signal_schema_exists=schema_exists,
        signal_schema_other_objects=other_objects,
        roles=tuple(row[0] for row in roles),
        roles_usable=tuple(row[0] for row in roles if row[1]),
        role_states=states,
        slot_recorded=found is not None and (found[2], slot_name) in recorded_slots(user_comment),
        publication_marked=is_marked(publication_comment),
        own_tables_marked=tuple(name for name, comment in own if is_marked(comment)),
        signal_schema_marked=is_marked(schema_comment),
    )


def terminate_slot_reader(db: Database, pid: int, wait_seconds: int = 3) -> None:
    """End the session reading a slot and wait (bounded, below the client's socket timeout) until
    it releases the slot: PG10+, where pg_terminate_backend's own timeout needs PG14.
    pg_replication_slots is read live; pg_stat_activity would be a snapshot for the whole loop."""
    db.execute("SELECT pg_terminate_backend(:pid)", pid=pid)
    db.execute(
        f"""DO $$ BEGIN
              FOR i IN 1..{int(wait_seconds) * 10} LOOP
                EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE active_pid = {int(pid)});
                PERFORM pg_sleep(0.1);
              END LOOP;
            END $$"""
    )


def drop_slot(db: Database, name: str) -> None:
    db.execute("SELECT pg_drop_replication_slot(:s)", s=name)


def drop_publication(publication: str) -> str:
    return f"DROP PUBLICATION IF EXISTS {identifier(publication)}"


def drop_tables(schema: str, tables: list[str]) -> str:
    return f"DROP TABLE IF EXISTS {', '.join(qualified(schema, t) for t in tables)}"


def drop_schema(schema: str) -> str:
    return f"DROP SCHEMA IF EXISTS {identifier(schema)}"  # RESTRICT: never takes other objects along


def reassign_owned(roles: list[str], to: str) -> str:
    # Objects the CDC user created are kept, owned by the master user, never dropped.
    return f"REASSIGN OWNED BY {', '.join(identifier(r) for r in roles)} TO {identifier(to)}"


def drop_owned(roles: list[str]) -> str:
    # After REASSIGN OWNED this only revokes the roles' privileges and default privileges here.
    return f"DROP OWNED BY {', '.join(identifier(r) for r in roles)}"


def drop_role(role: str) -> str:
    return f"DROP ROLE IF EXISTS {identifier(role)}"
