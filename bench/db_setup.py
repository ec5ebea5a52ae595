"""Database setup at scale: our Preflight + ConfigureDatabase + CreateSlot + Verify against the
seed guide's SQL run as a plain script, on the same local PostgreSQL, at 100 / 1,000 / 10,000 tables.

Each size: a template database (1 in 10 tables partitioned into two partitions, 1 in 10 without a
primary key) cloned for every run; the seed script and ours alternate, `--repeat` times each, and
the medians are compared. Our round trips are counted by wrapping `Database` (every statement goes
through `Database.rows`; a transaction adds BEGIN and COMMIT).

    python -m bench.db_setup [--sizes 100,1000,10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal
from unittest import mock

import boto3
from moto import mock_aws
from pg8000.native import identifier, literal

from bench.common import local_target, median, say, server, table, timed, verdict
from lambdas.dal.database import Database
from lambdas.dal.secrets import Credentials, Secrets
from lambdas.logic.database_apply import configure_database, create_slot
from lambdas.logic.preflight import preflight
from lambdas.logic.report import report
from lambdas.logic.verify import verify
from lambdas.shared.models import STATE_LIMIT_BYTES, SetupInput, WorkflowState
from local.postgres_server import LocalPostgres

GOAL_RATIO = 1.2


def make_tables(n: int) -> str:
    """One server-side block: n tables in public, every 10th partitioned, every 10th+5 without a key."""
    return f"""DO $$ BEGIN
      FOR i IN 1..{int(n)} LOOP
        IF i % 10 = 0 THEN
          EXECUTE format('CREATE TABLE public.t%s (id bigint, at date NOT NULL, v text,
                          PRIMARY KEY (id, at)) PARTITION BY RANGE (at)', i);
          EXECUTE format('CREATE TABLE public.t%s_a PARTITION OF public.t%s
                          FOR VALUES FROM (''2025-01-01'') TO (''2026-01-01'')', i, i);
          EXECUTE format('CREATE TABLE public.t%s_b PARTITION OF public.t%s
                          FOR VALUES FROM (''2026-01-01'') TO (''2027-01-01'')', i, i);
        ELSIF i % 10 = 5 THEN
          EXECUTE format('CREATE TABLE public.t%s (id bigint, v text)', i);
        ELSE
          EXECUTE format('CREATE TABLE public.t%s (id bigint PRIMARY KEY, v text)', i);
        END IF;
        IF i % 500 = 0 THEN COMMIT; END IF;  -- each CREATE holds a lock until commit
      END LOOP;
    END $$"""


def seed_script(database: str, user: str, role: str, password: str, tables: list[str], rds: bool) -> list[str]:
    """The guide's statements in its order, its signal-table DDL corrected (id + closing parenthesis).
    `tables` is the explicit list of Option 2 (Option 1, FOR ALL TABLES, needs a superuser on RDS)."""
    listed = ", ".join(f"public.{identifier(t)}" for t in tables)
    return [
        f"CREATE USER {identifier(user)} PASSWORD {literal(password)}",
        f"CREATE ROLE {identifier(role)}",
        f"GRANT {identifier(role)} TO {identifier(user)}",
        # rds_replication exists only on RDS; self-managed PostgreSQL needs the attribute on the user.
        f"GRANT rds_replication TO {identifier(role)}" if rds else f"ALTER ROLE {identifier(user)} REPLICATION",
        f"GRANT CREATE ON DATABASE {identifier(database)} TO {identifier(role)}",
        f"GRANT CREATE, USAGE ON SCHEMA public TO {identifier(role)}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {identifier(role)}",
        "CREATE TABLE streamkap_signal (id VARCHAR(255) PRIMARY KEY, type VARCHAR(32) NOT NULL, "
        "data VARCHAR(2000) NULL)",
        f"GRANT SELECT, UPDATE, INSERT ON streamkap_signal TO {identifier(role)}",
        f"CREATE PUBLICATION streamkap_pub FOR TABLE {listed} WITH (publish_via_partition_root = true)",
        "ALTER PUBLICATION streamkap_pub ADD TABLE streamkap_signal",
        "SELECT pg_create_logical_replication_slot('streamkap_pgoutput_slot', 'pgoutput')",
        "SELECT * FROM pg_publication_tables",
    ]


SEED_PEEK = (
    "SELECT count(*) FROM pg_logical_slot_peek_binary_changes('streamkap_pgoutput_slot', null, null, "
    "'proto_version', '1', 'publication_names', 'streamkap_pub')"
)


@contextmanager
def cloned(pg: LocalPostgres, template: str) -> Iterator[str]:
    """A fresh copy of the template database; dropped afterwards with its slot and roles."""
    name = f"run_{uuid.uuid4().hex[:10]}"
    admin = pg.connect()
    admin.run(f"CREATE DATABASE {identifier(name)} TEMPLATE {identifier(template)}")
    try:
        yield name
    finally:
        admin.run("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = :d", d=name)
        admin.run(f"DROP DATABASE {identifier(name)} WITH (FORCE)")
        for (role,) in admin.run("SELECT rolname::text FROM pg_roles WHERE rolname LIKE :p", p=f"%{name}"):
            admin.run(f"DROP ROLE {identifier(role)}")
        admin.close()


def run_seed(pg: LocalPostgres, database: str, tables: list[str]) -> float:
    user, role, password = f"streamkap_user_{database}", f"streamkap_role_{database}", uuid.uuid4().hex

    def go() -> None:
        master = pg.connect(database)
        for statement in seed_script(database, user, role, password, tables, rds=pg.rds_like):
            master.run(statement)
        master.close()
        as_user = pg.connect(database, user=user, password=password)
        as_user.run(SEED_PEEK)
        as_user.close()

    return timed(go)[0]


class RoundTrips:
    """Counts what our steps send: statements through Database.rows, BEGIN/COMMIT, connections."""

    def __init__(self) -> None:
        self.statements = 0
        self.connections = 0
        self.state_bytes = 0  # set by run_ours: Report's input and the execution output, JSON
        self.output_bytes = 0

    @contextmanager
    def counting(self) -> Iterator[None]:
        rows, transaction, connect = Database.rows, Database.transaction, Database.connect

        def counted_rows(db: Database, sql: str, **params: Any) -> list[list[Any]]:
            self.statements += 1
            return rows(db, sql, **params)

        @contextmanager
        def counted_transaction(db: Database) -> Iterator[Database]:
            self.statements += 2  # BEGIN, COMMIT (or ROLLBACK)
            with transaction(db) as inner:
                yield inner

        def counted_connect(cls: type[Database], /, **kwargs: Any) -> Database:
            self.connections += 1
            return connect(**kwargs)  # the original, bound to Database

        with (
            mock.patch.object(Database, "rows", counted_rows),
            mock.patch.object(Database, "transaction", counted_transaction),
            mock.patch.object(Database, "connect", classmethod(counted_connect)),
        ):
            yield


def run_ours(
    pg: LocalPostgres, database: str, policy: Literal["ignore", "full"], trips: RoundTrips | None = None
) -> float:
    setup = SetupInput(
        db_instance_identifier="bench",
        database=database,
        schemas=["public"],
        user_name=f"streamkap_user_{database}",
        role_name=f"streamkap_role_{database}",
        slot_name="streamkap_pgoutput_slot",
        replica_identity=policy,
        heartbeat="table",  # as Preflight resolves "auto" below 14; the guide's script makes both tables too
    )
    target = local_target(pg, database)
    master = Credentials(pg.master_user, pg.master_password)

    def connect(credentials: Credentials) -> Database:
        pg.sync_rds_replication()  # rds_replication takes effect, as on RDS (the local runner does the same)
        return Database.connect(host=pg.host, port=pg.port, database=database, credentials=credentials)

    def go() -> None:
        with connect(master) as db:
            planned = preflight(db, Secrets(), setup, target)
        with connect(master) as db:
            configured = configure_database(db, Secrets(), setup, target)
        with connect(master) as db:
            slot = create_slot(db, setup, target)
        with connect(Secrets().credentials(configured.secret_arn)) as db:
            result = verify(db, setup, configured)
        assert result.peek_ok and result.heartbeat_seen, result
        if trips is not None:  # the largest state (Report's input) and the output, as Step Functions sizes them
            state = WorkflowState(
                input=setup, target=target, preflight=planned, configure=configured, slot=slot, verification=result
            )
            trips.state_bytes = len(state.model_dump_json(exclude_none=True).encode())
            trips.output_bytes = len(report(state).model_dump_json(exclude_none=True).encode())

    with mock_aws():
        if trips is None:
            return timed(go)[0]
        with trips.counting():
            return timed(go)[0]


def main(argv: list[str] | None = None) -> dict[int, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[list[str]] = []
    figures: dict[int, dict[str, float]] = {}  # by table count
    boto3.setup_default_session()
    # One statement (the seed's CREATE PUBLICATION, our ConfigureDatabase transaction) locks every table:
    # the shared lock table holds max_locks_per_transaction x max_connections (64 x 100 by default) locks.
    with server(max_locks_per_transaction="512") as pg:
        major = pg.major_version
        for n in sizes:
            template = f"tpl_{n}"
            pg.create_database(template)
            conn = pg.connect(template)
            conn.run(make_tables(n))
            tables = [
                r[0]
                for r in conn.run(
                    "SELECT relname::text FROM pg_class c JOIN pg_namespace s "
                    "ON s.oid = c.relnamespace WHERE s.nspname = 'public' "
                    "AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1"
                )
            ]
            conn.close()
            seed, ignore, full = [], [], []
            trips = {"ignore": RoundTrips(), "full": RoundTrips()}
            for attempt in range(args.repeat):
                with cloned(pg, template) as db:
                    seed.append(run_seed(pg, db, tables))
                with cloned(pg, template) as db:
                    ignore.append(run_ours(pg, db, "ignore", trips["ignore"] if attempt == 0 else None))
                with cloned(pg, template) as db:
                    full.append(run_ours(pg, db, "full", trips["full"] if attempt == 0 else None))
            s, i, f = median(seed), median(ignore), median(full)
            figures[n] = {
                "seed_s": s,
                "ours_ignore_s": i,
                "ours_full_s": f,
                "ratio_ignore": i / s,
                "ratio_full": f / s,
                "round_trips_ignore": trips["ignore"].statements,
                "round_trips_full": trips["full"].statements,
                "connections": trips["ignore"].connections,
                "state_kib": trips["full"].state_bytes / 1024,
                "output_kib": trips["full"].output_bytes / 1024,
            }
            rows.append(
                [
                    f"{n:,}",
                    f"{s:.2f}",
                    f"{i:.2f}",
                    f"{i / s:.2f}x",
                    f"{f:.2f}",
                    f"{f / s:.2f}x",
                    f"{trips['ignore'].statements} / {trips['full'].statements}",
                    f"{len(seed_script('d', 'u', 'r', 'p', tables, False)) + 1}",
                    f"{trips['full'].state_bytes / 1024:.1f} / {trips['full'].output_bytes / 1024:.1f}",
                ]
            )
            pg.connect().run(f"DROP DATABASE {identifier(template)}")
    say(f"Database setup, PostgreSQL {major}, median of {args.repeat} alternating runs each:")
    say(
        table(
            [
                "tables",
                "seed s",
                "ours s (ignore)",
                "ratio",
                "ours s (full)",
                "ratio",
                "our round trips (ignore/full)",
                "seed statements",
                "largest state / output KiB",
            ],
            rows,
        )
    )
    trips_ignore = {figures[n]["round_trips_ignore"] for n in sizes}
    trips_full = {figures[n]["round_trips_full"] for n in sizes}
    largest = figures[max(sizes)]
    say(
        f"goal <= {GOAL_RATIO}x the seed at {max(sizes):,} tables (replica_identity ignore, like the seed): "
        f"{largest['ratio_ignore']:.2f}x, met: {verdict(largest['ratio_ignore'] <= GOAL_RATIO)}"
    )
    say(
        f"goal constant round trips in the table count: ignore {sorted(trips_ignore)}, full {sorted(trips_full)}, "
        f"met: {verdict(len(trips_ignore) == 1 and len(trips_full) == 1)}"
    )
    biggest = max(max(figures[n]["state_kib"], figures[n]["output_kib"]) for n in sizes)
    say(
        f"limit: Step Functions state and output <= {STATE_LIMIT_BYTES // 1024} KiB at every size: largest "
        f"{biggest:.1f} KiB, met: {verdict(biggest * 1024 <= STATE_LIMIT_BYTES)}"
    )
    say("FIGURES " + json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
