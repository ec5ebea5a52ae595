"""Name-based snapshots of what the workflow could change: the catalog of one database plus
cluster-wide roles (attributes, password hashes, memberships with admin option, comments) and
slots, and the emulated RDS control plane. Equal snapshots mean "nothing changed"; everything
is by name (no OIDs, no random ARN suffixes) so runs compare."""

from __future__ import annotations

from typing import Any

import boto3

from local.postgres_server import LocalPostgres

# Read as the admin (pg_authid holds the password hashes, which only a superuser may read).
# A hash is compared whole (its salt included): a re-set password, even to the same value,
# shows as a difference.
CATALOG_QUERIES = {
    "roles": """SELECT rolname::text, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
                       rolreplication, rolbypassrls, rolconnlimit, rolvaliduntil::text, rolpassword
                FROM pg_authid WHERE rolname !~ '^pg_' ORDER BY 1""",
    "memberships": """SELECT m.rolname::text, g.rolname::text, am.admin_option
                      FROM pg_auth_members am
                      JOIN pg_roles m ON m.oid = am.member JOIN pg_roles g ON g.oid = am.roleid ORDER BY 1, 2, 3""",
    "role_comments": """SELECT rolname::text, shobj_description(oid, 'pg_authid') FROM pg_roles
                        WHERE shobj_description(oid, 'pg_authid') IS NOT NULL ORDER BY 1""",
    "role_settings": """SELECT coalesce(r.rolname::text, ''), coalesce(d.datname::text, ''), s.setconfig::text
                        FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole
                        LEFT JOIN pg_database d ON d.oid = s.setdatabase ORDER BY 1, 2""",
    "databases": "SELECT datname::text, pg_get_userbyid(datdba)::text, datacl::text FROM pg_database ORDER BY 1",
    "schemas": """SELECT nspname::text, nspowner::regrole::text, nspacl::text,
                         obj_description(oid, 'pg_namespace') FROM pg_namespace
                  WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY 1""",
    "tables": """SELECT n.nspname::text, c.relname::text, c.relkind::text, c.relowner::regrole::text,
                        c.relreplident::text, c.relacl::text, obj_description(c.oid, 'pg_class')
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r', 'p') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
                 ORDER BY 1, 2""",
    "functions": """SELECT n.nspname::text, p.oid::regprocedure::text, p.proowner::regrole::text, p.proacl::text
                    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                    WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' ORDER BY 1, 2""",
    "default_acls": """SELECT defaclrole::regrole::text, coalesce(defaclnamespace::regnamespace::text, ''),
                              defaclobjtype::text, defaclacl::text FROM pg_default_acl ORDER BY 1, 2, 3""",
    "publications": """SELECT pubname::text, pubowner::regrole::text, puballtables, pubinsert, pubupdate, pubdelete,
                              obj_description(oid, 'pg_publication') FROM pg_publication ORDER BY 1""",
    "publication_tables": """SELECT pubname::text, schemaname::text, tablename::text FROM pg_publication_tables
                             ORDER BY 1, 2, 3""",
    "slots": "SELECT slot_name::text, plugin::text, slot_type, database::text FROM pg_replication_slots ORDER BY 1",
    "wal_level": "SELECT current_setting('wal_level')",
}
# Columns that exist from a major on: (query name, major, query).
SINCE_MAJOR = [
    ("publication_options", 13, "SELECT pubname::text, pubviaroot, pubtruncate FROM pg_publication ORDER BY 1"),
    ("publication_options", 11, "SELECT pubname::text, pubtruncate FROM pg_publication ORDER BY 1"),
]


def catalog(server: LocalPostgres, database: str, *, password_hashes: bool = True) -> dict[str, Any]:
    """The catalog as it stands once rds_replication memberships have taken effect (on RDS they
    do at once; the stand-in applies them at connections, see LocalPostgres.sync_rds_replication).
    `password_hashes=False` keeps only whether a role has a password: for comparing separate runs,
    each of which creates its login with a new password."""
    server.sync_rds_replication()
    conn = server.connect_admin(database)
    try:
        major = server.major_version
        found = {name: conn.run(query) for name, query in CATALOG_QUERIES.items()}
        for name, since, query in SINCE_MAJOR:
            if major >= since and name not in found:
                found[name] = conn.run(query)
    finally:
        conn.close()
    if not password_hashes:
        found["roles"] = [[*row[:-1], row[-1] is not None] for row in found["roles"]]
    return found


def security_group_state(database_port: int | None = None) -> tuple[dict[str, str], dict[str, Any]]:
    """(group id -> name, name -> its description, tags and inbound rules): by name, ids are random;
    the database's port as "database port", as each local server has its own."""

    def port(value: Any) -> Any:
        return "database port" if database_port is not None and value == database_port else value

    found = boto3.client("ec2").describe_security_groups()["SecurityGroups"]
    names = {g["GroupId"]: g["GroupName"] for g in found}
    groups = {
        g["GroupName"]: (
            g.get("Description"),
            sorted((t["Key"], t["Value"]) for t in g.get("Tags") or []),
            sorted(
                [
                    (
                        p.get("IpProtocol"),
                        port(p.get("FromPort")),
                        port(p.get("ToPort")),
                        r.get("CidrIp") or r.get("CidrIpv6"),
                        r.get("Description"),
                    )
                    for p in g.get("IpPermissions") or []
                    for r in [*(p.get("IpRanges") or []), *(p.get("Ipv6Ranges") or [])]
                ],
                key=str,  # ports are numbers or "database port"
            ),
        )
        for g in found
    }
    return names, groups


def rds_state(database_port: int | None = None) -> dict[str, Any]:
    rds, sm = boto3.client("rds"), boto3.client("secretsmanager")
    group_names, security_groups = security_group_state(database_port)

    def tags(arn: str) -> list[tuple[str, str]]:
        return sorted((t["Key"], t["Value"]) for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"])

    instances = [
        (
            i["DBInstanceIdentifier"],
            i["DBInstanceStatus"],
            [(g["DBParameterGroupName"], g["ParameterApplyStatus"]) for g in i.get("DBParameterGroups", [])],
            [group_names.get(g["VpcSecurityGroupId"]) for g in i.get("VpcSecurityGroups", [])],
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
            [group_names.get(g["VpcSecurityGroupId"]) for g in c.get("VpcSecurityGroups", [])],
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
        "security_groups": security_groups,
    }


def everything(server: LocalPostgres, database: str, *, password_hashes: bool = True) -> dict[str, Any]:
    return {"catalog": catalog(server, database, password_hashes=password_hashes), "rds": rds_state(server.port)}
