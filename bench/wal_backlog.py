"""Verify under WAL backlog: our Verify (a bounded peek under a statement timeout) against the seed
guide's unbounded `pg_logical_slot_peek_binary_changes(slot, null, null, ...)`, with 10 MiB / 100 MiB /
1 GiB of changes pending in the slot, written as many small transactions (a peek with upto_nchanges
still decodes whole transactions). Then the case it cannot bound: one huge transaction.

    python -m bench.wal_backlog [--sizes-mib 10,100,1024] [--huge-mib 100] [--repeat 3]

Disk: the backlog is kept as WAL plus the table it was written to (about twice the largest size);
the throw-away server, its WAL and the slot go when the script ends.
"""

from __future__ import annotations

import argparse
import json
import uuid
from typing import Any

import pg8000.native
from moto import mock_aws

from bench.common import local_target, median, say, server, table, timed, verdict
from lambdas.dal.database import Database
from lambdas.dal.secrets import Credentials, Secrets
from lambdas.logic.database_apply import configure_database, create_slot
from lambdas.logic.verify import verify
from lambdas.shared.models import SetupInput
from lambdas.shared.settings import environment

MIB = 1024 * 1024
DATABASE, SLOT, PUBLICATION = "backlog", "streamkap_pgoutput_slot", "streamkap_pub"
ROWS_PER_TRANSACTION = 100  # of ~1 KiB each: ~130 KiB of WAL per transaction
GOAL_SPEEDUP = 100
GOAL_FLAT = 3.0  # Verify at the largest backlog at most this multiple of Verify at the smallest


def seed_peek(user_conn: Any) -> int:
    return user_conn.run(
        "SELECT count(*) FROM pg_logical_slot_peek_binary_changes(:s, null, null, "
        "'proto_version', '1', 'publication_names', :p)",
        s=SLOT,
        p=PUBLICATION,
    )[0][0]


def backlog_bytes(conn: Any) -> int:
    return int(
        conn.run(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
            "FROM pg_replication_slots WHERE slot_name = :s",
            s=SLOT,
        )[0][0]
    )


def grow_backlog(conn: Any, target_bytes: int) -> int:
    """Small transactions (COMMIT inside a DO block: one round trip per batch) until the slot holds target."""
    while (pending := backlog_bytes(conn)) < target_bytes:
        transactions = max(1, min(2000, (target_bytes - pending) // (130 * 1024)))
        conn.run(
            f"""DO $$ BEGIN FOR i IN 1..{int(transactions)} LOOP
                  INSERT INTO public.events (payload)
                    SELECT repeat(md5(random()::text), 30) FROM generate_series(1, {ROWS_PER_TRANSACTION});
                  COMMIT;
                END LOOP; END $$"""
        )
    return pending


def one_transaction(conn: Any, size_bytes: int) -> None:
    rows = max(1, size_bytes // 1100)
    conn.run(
        f"INSERT INTO public.events (payload) SELECT repeat(md5(random()::text), 30) FROM generate_series(1, {rows})"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mib", default="10,100,1024")
    parser.add_argument("--huge-mib", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes_mib.split(",")]
    figures: dict[str, Any] = {}
    rows = []
    with server() as pg, mock_aws():
        pg.create_database(DATABASE)
        admin = pg.connect(DATABASE)
        admin.run("CREATE TABLE public.events (id bigserial PRIMARY KEY, payload text)")
        setup = SetupInput(
            db_instance_identifier="bench",
            database=DATABASE,
            user_name=f"streamkap_user_{uuid.uuid4().hex[:6]}",
            heartbeat="table",  # docs/BENCHMARKS.md figures peek for a heartbeat row (no Preflight here)
        )
        target = local_target(pg, DATABASE)
        master = Credentials(pg.master_user, pg.master_password)
        with Database.connect(host=pg.host, port=pg.port, database=DATABASE, credentials=master) as db:
            configured = configure_database(db, Secrets(), setup, target)
        with Database.connect(host=pg.host, port=pg.port, database=DATABASE, credentials=master) as db:
            create_slot(db, setup, target)
        user_credentials = Secrets().credentials(configured.secret_arn)
        pg.sync_rds_replication()  # its rds_replication membership takes effect, as on RDS (outside the timings)

        def ours() -> float:
            def go() -> None:
                with Database.connect(
                    host=pg.host, port=pg.port, database=DATABASE, credentials=user_credentials
                ) as db:
                    assert verify(db, setup, configured).peek_ok

            return timed(go)[0]

        def seed() -> tuple[float, int]:
            def go() -> int:  # as the guide has it: log in as the Streamkap user, then peek
                conn = pg8000.native.Connection(  # no TLS attempt, as Verify connects locally
                    user=user_credentials.username,
                    password=user_credentials.password,
                    host=pg.host,
                    port=pg.port,
                    database=DATABASE,
                    ssl_context=False,
                )
                try:
                    return seed_peek(conn)
                finally:
                    conn.close()

            return timed(go)

        for size in sizes:
            pending = grow_backlog(admin, size * MIB)
            runs = [(ours(), seed()) for _ in range(args.repeat)]  # alternating
            our_times = [o for o, _ in runs]
            seed_runs = [s for _, s in runs]
            o, s = median(our_times), median([t for t, _ in seed_runs])
            changes = seed_runs[0][1]
            figures[f"{size}MiB"] = {
                "pending_bytes": pending,
                "ours_s": o,
                "seed_s": s,
                "speedup": s / o,
                "changes": changes,
            }
            rows.append(
                [
                    f"{size} MiB (many transactions)",
                    f"{pending / MIB:.0f}",
                    f"{changes:,}",
                    f"{o * 1000:.0f}",
                    f"{s * 1000:.0f}",
                    f"{s / o:.0f}x",
                ]
            )

        # One huge transaction: move the slot past everything, then write one transaction of the size.
        admin.run("SELECT pg_replication_slot_advance(:s, pg_current_wal_lsn())", s=SLOT)
        superuser = pg.connect_admin(DATABASE)  # CHECKPOINT needs the superuser (rdsadmin on RDS)
        superuser.run("CHECKPOINT")
        superuser.close()
        one_transaction(admin, args.huge_mib * MIB)
        pending = backlog_bytes(admin)
        # Alternating, twice each: the first decode of a big transaction reads cold WAL and spills to disk.
        huge_runs = [(ours(), seed()) for _ in range(2)]
        huge_ours = median([o for o, _ in huge_runs])
        huge_seed, changes = median([s for _, (s, _) in huge_runs]), huge_runs[0][1][1]
        figures["huge"] = {
            "pending_bytes": pending,
            "ours_s": huge_ours,
            "seed_s": huge_seed,
            "speedup": huge_seed / huge_ours,
            "changes": changes,
        }
        rows.append(
            [
                f"{args.huge_mib} MiB (one transaction)",
                f"{pending / MIB:.0f}",
                f"{changes:,}",
                f"{huge_ours * 1000:.0f}",
                f"{huge_seed * 1000:.0f}",
                f"{huge_seed / huge_ours:.1f}x",
            ]
        )
        admin.close()
    peek_ms = environment().peek_timeout_ms
    say(f"Verify under WAL backlog (Verify's peek: at most 256 changes, statement_timeout {peek_ms} ms):")
    say(table(["backlog", "pending MiB", "changes (seed count)", "our Verify ms", "seed peek ms", "speedup"], rows))
    small, large = figures[f"{min(sizes)}MiB"], figures[f"{max(sizes)}MiB"]
    flatness = large["ours_s"] / small["ours_s"]
    say(
        f"goal Verify flat in backlog: {max(sizes)} MiB / {min(sizes)} MiB = {flatness:.2f}x "
        f"(flat: <= {GOAL_FLAT}x), met: {verdict(flatness <= GOAL_FLAT)}"
    )
    say(
        f"goal >= {GOAL_SPEEDUP}x faster than the seed's peek at {max(sizes)} MiB: {large['speedup']:.0f}x, "
        f"met: {verdict(large['speedup'] >= GOAL_SPEEDUP)}"
    )
    say(
        f"one {args.huge_mib} MiB transaction: Verify {huge_ours * 1000:.0f} ms vs seed {huge_seed * 1000:.0f} ms: "
        "a peek decodes whole transactions, so no bound on changes helps; only the statement timeout does"
    )
    say("FIGURES " + json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
