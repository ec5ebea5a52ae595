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

    def tags(arn: str) -> list[tuple[str, str]]:
        return sorted((t["Key"], t["Value"]) for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"])

    instances = [
        (
            i["DBInstanceIdentifier"],
            i["DBInstanceStatus"],
            [(g["DBParameterGroupName"], g["ParameterApplyStatus"]) for g in i.get("DBParameterGroups", [])],
        )
        for i in rds.describe_db_instances()["DBInstances"]
    ]
    groups = {
        g["DBParameterGroupName"]: (
            sorted(
                (p["ParameterName"], p.get("ParameterValue"))
                for p in rds.describe_db_parameters(DBParameterGroupName=g["DBParameterGroupName"])["Parameters"]
            ),
            tags(g["DBParameterGroupArn"]),
        )
        for g in rds.describe_db_parameter_groups()["DBParameterGroups"]
    }
    clusters = sorted(
        (
            c["DBClusterIdentifier"],
            c.get("DBClusterParameterGroup"),
            [(m["DBInstanceIdentifier"], m.get("DBClusterParameterGroupStatus")) for m in c["DBClusterMembers"]],
        )
        for c in rds.describe_db_clusters()["DBClusters"]
    )
    cluster_groups = {
        g["DBClusterParameterGroupName"]: (
            sorted(
                (p["ParameterName"], p.get("ParameterValue"))
                for p in rds.describe_db_cluster_parameters(
                    DBClusterParameterGroupName=g["DBClusterParameterGroupName"]
                )["Parameters"]
            ),
            tags(g["DBClusterParameterGroupArn"]),
        )
        for g in rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
    }
    secrets = sorted(s["Name"] for s in sm.list_secrets()["SecretList"] if not s["Name"].startswith("rds!"))
    return {
        "instances": sorted(instances),
        "parameter_groups": groups,
        "clusters": clusters,
        "cluster_parameter_groups": cluster_groups,
        "secrets": secrets,
    }


def everything(server: LocalPostgres, database: str) -> dict[str, Any]:
    return {"catalog": catalog(server, database), "rds": rds_state()}
