"""Name-based snapshots of what the workflow could change: the catalog of one database plus
cluster-wide roles and slots, and the emulated RDS control plane. Equal snapshots mean
"nothing changed"; OIDs, salts and random ARN suffixes are left out so runs compare."""

from __future__ import annotations

from typing import Any

import boto3

from local.postgres_server import LocalPostgres

CATALOG_QUERIES = {
    "roles": """SELECT rolname::text, rolsuper, rolcanlogin, rolreplication, rolcreaterole FROM pg_roles
                WHERE rolname !~ '^pg_' ORDER BY 1""",
    "memberships": """SELECT m.rolname::text, g.rolname::text FROM pg_auth_members am
                      JOIN pg_roles m ON m.oid = am.member JOIN pg_roles g ON g.oid = am.roleid ORDER BY 1, 2""",
    "databases": "SELECT datname::text, datacl::text FROM pg_database ORDER BY 1",
    "schemas": """SELECT nspname::text, nspowner::regrole::text, nspacl::text FROM pg_namespace
                  WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY 1""",
    "tables": """SELECT n.nspname::text, c.relname::text, c.relkind::text, c.relreplident::text, c.relacl::text
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r', 'p') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
                 ORDER BY 1, 2""",
    "default_acls": """SELECT defaclrole::regrole::text, defaclnamespace::regnamespace::text, defaclobjtype::text,
                              defaclacl::text FROM pg_default_acl ORDER BY 1, 2, 3""",
    "publications": """SELECT pubname::text, puballtables, pubinsert, pubupdate, pubdelete FROM pg_publication
                       ORDER BY 1""",
    "publication_tables": """SELECT pubname::text, schemaname::text, tablename::text FROM pg_publication_tables
                             ORDER BY 1, 2, 3""",
    "slots": "SELECT slot_name::text, plugin::text, slot_type, database::text FROM pg_replication_slots ORDER BY 1",
    "wal_level": "SELECT current_setting('wal_level')",
}


def catalog(server: LocalPostgres, database: str) -> dict[str, Any]:
    conn = server.connect(database)
    try:
        return {name: conn.run(query) for name, query in CATALOG_QUERIES.items()}
    finally:
        conn.close()


def rds_state() -> dict[str, Any]:
    rds, sm = boto3.client("rds"), boto3.client("secretsmanager")
    instances = [
        (
            i["DBInstanceIdentifier"],
            i["DBInstanceStatus"],
            [(g["DBParameterGroupName"], g["ParameterApplyStatus"]) for g in i.get("DBParameterGroups", [])],
        )
        for i in rds.describe_db_instances()["DBInstances"]
    ]
    groups = {
        g["DBParameterGroupName"]: sorted(
            (p["ParameterName"], p.get("ParameterValue"))
            for p in rds.describe_db_parameters(DBParameterGroupName=g["DBParameterGroupName"])["Parameters"]
        )
        for g in rds.describe_db_parameter_groups()["DBParameterGroups"]
    }
    secrets = sorted(s["Name"] for s in sm.list_secrets()["SecretList"] if not s["Name"].startswith("rds!"))
    return {"instances": sorted(instances), "parameter_groups": groups, "secrets": secrets}


def everything(server: LocalPostgres, database: str) -> dict[str, Any]:
    return {"catalog": catalog(server, database), "rds": rds_state()}
