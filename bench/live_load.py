"""Setup under live load: pgbench writes into the captured tables, as an application role, while the
real workflow (the ASL on moto with the RDS emulator, Lambdas in-process) sets the database up;
side by side with the same pgbench run without the workflow.

Per table count (a template database as bench/db_setup.py builds it: 1 table in 10 partitioned, 1 in
10 without a key) and `replica_identity` (ignore, full): a fresh copy of the template; pgbench for
`--seconds` (the baseline); pgbench again for `--seconds`, the workflow started `--lead` seconds in.
pgbench runs at a fixed rate (`--rate`, as an application's load, not a saturation test) over a
sample of the tables: keyed tables get an upsert and an UPDATE, partitioned ones an upsert, keyless
ones an INSERT (and an UPDATE with `full`: `ignore` is for insert-only tables, whose UPDATEs fail
once published). Figures from pgbench's per-transaction log: "during" counts the transactions that
overlap the workflow's window (its execution history's first to last event), the baseline all but
its first second. The longest wait is measured on both sides: the application's (a transaction's
time minus its schedule lag, so at least any statement's wait in it), and the server's (log_lock_waits
with deadlock_timeout 100 ms: the longest "acquired ... after" or "still waiting" of the app's
sessions). Before the measured runs, one run on a tiny database reboots the emulated instance onto
its new parameter group, so the measured runs take the no-reboot path: a reboot ends every session,
which is no lock wait.

    python -m bench.live_load [--tables 1000,10000] [--policies ignore,full] [--seconds 20] [--rate 200]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from pg8000.native import identifier, literal

from bench.common import say, server, table, verdict
from bench.db_setup import make_tables, run_seed
from lambdas.shared.settings import environment
from local.postgres_server import LocalPostgres
from local.rds_emulator import RdsEmulator
from local.workflow_runner import LocalWorkflow

INSTANCE = "live-prod"
APP_USER, APP_PASSWORD = "bench_app", "bench-app-password"  # a throw-away server's app role
GOAL_P99_RATIO = 2.0
GUIDE = "guide"  # a --policies value: the seed guide's script run by hand instead of the workflow, for reference
SAMPLE_BLOCKS = 30  # blocks of 10 tables written to (8 keyed, 1 keyless, 1 partitioned each)
LOCK_WAIT = re.compile(r" (\S+)@\S+ LOG:  process \d+ (acquired|still waiting for) \S+ on .*? after ([0-9.]+) ms")

KEYED = """\\set k random(0, :blocks - 1)
\\set d random(1, 8)
\\set tid 10 * :k * :stride + :d + (case when :d > 4 then 1 else 0 end)
\\set id random(1, 1000)
BEGIN;
INSERT INTO t:tid (id, v) VALUES (:id, 'i') ON CONFLICT (id) DO UPDATE SET v = excluded.v;
UPDATE t:tid SET v = 'u' WHERE id = :id;
END;
"""
KEYLESS = """\\set k random(0, :blocks - 1)
\\set tid 10 * :k * :stride + 5
\\set id random(1, 1000)
BEGIN;
INSERT INTO t:tid (id, v) VALUES (:id, 'i');
{update}END;
"""
PARTITIONED = """\\set k random(0, :blocks - 1)
\\set tid 10 * :k * :stride + 10
\\set id random(1, 1000)
INSERT INTO t:tid (id, at, v) VALUES (:id, '2025-06-01', 'i') ON CONFLICT (id, at) DO UPDATE SET v = excluded.v;
"""


@dataclass
class Load:
    """One pgbench run: per transaction (start, end, latency ms, statement time ms), and its failures."""

    transactions: list[tuple[float, float, float, float]]
    failed: int
    aborted: int
    errors: list[str]
    lock_wait_ms: float  # server-side, the app's sessions

    def within(self, start: float, end: float) -> list[tuple[float, float, float, float]]:
        return [t for t in self.transactions if t[1] >= start and t[0] <= end]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] if ordered else 0.0


def pgbench_path(pg: LocalPostgres) -> Path:
    """pgbench ships with the server: next to pg_ctl, else the newest apt-installed one."""
    return pg.client_tool("pgbench")


def write_scripts(folder: Path, policy: str) -> list[str]:
    update = "UPDATE t:tid SET v = 'u' WHERE id = :id;\n" if policy == "full" else ""
    scripts = {"keyed": (KEYED, 8), "keyless": (KEYLESS.format(update=update), 1), "partitioned": (PARTITIONED, 1)}
    args = []
    for name, (text, weight) in scripts.items():
        path = folder / f"{name}.sql"
        path.write_text(text)
        args += ["-f", f"{path}@{weight}"]
    return args


def read_log(prefix: Path) -> tuple[list[tuple[float, float, float, float]], int]:
    """pgbench 15's per-transaction log: client tx time|failed script epoch us [lag] [retries]."""
    transactions, failed = [], 0
    for path in prefix.parent.glob(prefix.name + ".*"):
        for line in path.read_text().splitlines():
            fields = line.split()
            if fields[2] in ("failed", "serialization", "deadlock", "other"):
                failed += 1
                continue
            if fields[2] == "skipped":
                continue
            latency_us = int(fields[2])
            end = int(fields[4]) + int(fields[5]) / 1e6
            lag_us = int(fields[6]) if len(fields) > 6 else 0
            # With --rate, the time counts from the scheduled start: the statements ran for time - lag.
            transactions.append(
                (end - (latency_us - lag_us) / 1e6, end, latency_us / 1000, (latency_us - lag_us) / 1000)
            )
    return transactions, failed


def server_lock_wait_ms(pg: LocalPostgres, offset: int) -> float:
    text = pg.log_file.read_bytes()[offset:].decode(errors="replace")
    waits = [float(m.group(3)) for m in LOCK_WAIT.finditer(text) if m.group(1) == APP_USER]
    return max(waits, default=0.0)


class Bench:
    def __init__(self, pg: LocalPostgres, args: argparse.Namespace, folder: Path) -> None:
        self.pg, self.args, self.folder = pg, args, folder
        self.pgbench = pgbench_path(pg)

    def start_load(self, database: str, n: int, policy: str, name: str) -> tuple[subprocess.Popen, Path, int]:
        blocks = max(1, min(SAMPLE_BLOCKS, n // 10))
        stride = max(1, (n // 10) // blocks)
        prefix = self.folder / f"{name}_log"
        # pgbench, the application, keeps the priority the harness gave up (raising it needs root).
        renice = ["nice", "-n", str(-os.nice(0))] if os.geteuid() == 0 and os.nice(0) else []
        command = [
            *renice,
            str(self.pgbench),
            "-h", self.pg.host, "-p", str(self.pg.port), "-U", APP_USER, "-n",
            "-M", "simple",  # :tid goes into the table name: substituted as text in the simple protocol
            "-c", str(self.args.clients), "-j", "2",
            "-R", str(self.args.rate), "-T", str(self.args.seconds),
            "-D", f"blocks={blocks}", "-D", f"stride={stride}",
            "--max-tries", "1", "--failures-detailed",
            "-l", "--log-prefix", str(prefix),
            *write_scripts(self.folder, policy),
            database,
        ]  # fmt: skip
        offset = self.pg.log_file.stat().st_size
        env = {**os.environ, "PGPASSWORD": APP_PASSWORD, "PGSSLMODE": "disable"}
        return (
            subprocess.Popen(
                command,
                cwd=self.folder,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
            prefix,
            offset,
        )

    def finish_load(self, process: subprocess.Popen, prefix: Path, offset: int) -> Load:
        stdout, stderr = process.communicate(timeout=self.args.seconds + 120)
        transactions, failed = read_log(prefix)
        errors = [line for line in stderr.splitlines() if "aborted" in line or "ERROR" in line]
        aborted = sum(1 for line in stderr.splitlines() if "aborted" in line)
        if process.returncode not in (0, 2) or not transactions:
            raise RuntimeError(f"pgbench failed ({process.returncode}): {stdout[-1000:]}{stderr[-2000:]}")
        return Load(transactions, failed, aborted, errors[:5], server_lock_wait_ms(self.pg, offset))


def build_template(pg: LocalPostgres, n: int) -> str:
    name = f"tpl_{n}"
    pg.create_database(name)
    conn = pg.connect(name)
    conn.run(make_tables(n))
    conn.run(f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {identifier(APP_USER)}")
    conn.close()
    return name


def execution_input(database: str, policy: str) -> dict[str, Any]:
    return {
        "db_instance_identifier": INSTANCE,
        "database": database,
        "schemas": ["public"],
        "replica_identity": policy,
        "user_name": f"cdc_{database}",
        "role_name": f"cdc_role_{database}",
        "slot_name": f"slot_{database}",
        "poll_seconds": 5,
    }


def published_tables(pg: LocalPostgres, database: str) -> list[str]:
    """Every table of `public` by name (the guide qualifies them), as it publishes them: partitions by their parent."""
    conn = pg.connect(database)
    try:
        rows = conn.run(
            "SELECT format('%I', c.relname) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
            "AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1"
        )
    finally:
        conn.close()
    return [name for (name,) in rows]


def window(events: list[dict[str, Any]]) -> tuple[float, float]:
    stamps = [e["timestamp"].timestamp() for e in events]
    return min(stamps), max(stamps)


def scenario(bench: Bench, workflow: LocalWorkflow, template: str, n: int, policy: str) -> dict[str, Any]:
    pg, args = bench.pg, bench.args
    database = f"live_{n}_{policy}"
    master = pg.connect()
    master.run(f"CREATE DATABASE {identifier(database)} TEMPLATE {identifier(template)}")
    master.close()
    load = "ignore" if policy == GUIDE else policy  # the guide publishes every table as it is
    try:
        base = bench.finish_load(*bench.start_load(database, n, load, f"{database}_baseline"))
        process, prefix, offset = bench.start_load(database, n, load, f"{database}_during")
        time.sleep(args.lead)
        if policy == GUIDE:
            started = time.time()
            run_seed(pg, database, published_tables(pg, database))
            ended = time.time()
            during = bench.finish_load(process, prefix, offset)
        else:
            execution = workflow.run(execution_input(database, policy))
            during = bench.finish_load(process, prefix, offset)
            if execution.status != "SUCCEEDED":
                raise RuntimeError(f"workflow {execution.status}: {execution.error}: {execution.cause}")
            started, ended = window(execution.events)
        if ended > max(t[1] for t in during.transactions):
            raise RuntimeError(f"the run ran past pgbench's {args.seconds} s: raise --seconds")
    finally:
        admin = pg.connect_admin()
        admin.run(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = :d", d=database
        )
        admin.close()
        pg.drop_database(database)
        admin = pg.connect_admin()
        for (role,) in admin.run("SELECT rolname::text FROM pg_roles WHERE rolname LIKE :p", p=f"%_{database}"):
            admin.run(f"DROP ROLE {identifier(role)}")  # the guide's user and role (server-wide)
        admin.close()
    first = min(t[0] for t in base.transactions)
    steady = [t for t in base.transactions if t[0] >= first + 1]  # pgbench's connection ramp-up left out
    inside = during.within(started, ended)
    span = max(ended - started, 1e-3)
    base_span = max(t[1] for t in steady) - min(t[0] for t in steady)
    return {
        "tables": n,
        "replica_identity": policy,
        "workflow_s": ended - started,
        "baseline_tps": len(steady) / base_span,
        "during_tps": sum(1 for t in inside if started <= t[1] <= ended) / span,
        "during_transactions": len(inside),
        "baseline_p50_ms": percentile([t[2] for t in steady], 50),
        "during_p50_ms": percentile([t[2] for t in inside], 50),
        "baseline_p99_ms": percentile([t[2] for t in steady], 99),
        "during_p99_ms": percentile([t[2] for t in inside], 99),
        "failed": during.failed + during.aborted,
        "baseline_failed": base.failed + base.aborted,
        "errors": during.errors,
        "baseline_longest_ms": max(t[3] for t in base.transactions),
        "longest_app_ms": max(t[3] for t in during.transactions),
        "longest_lock_wait_ms": during.lock_wait_ms,
        "baseline_lock_wait_ms": base.lock_wait_ms,
    }


def split_cpus(pg: LocalPostgres) -> None:
    """The server's processes (and the backends its postmaster forks later) on CPU 0; this process,
    its in-process Lambdas and the pgbench it starts on the other CPUs. On RDS the Lambdas never share
    the database's CPUs; on one host the harness would otherwise slow the server it measures."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        say("  one CPU: server and harness share it")
        return
    postmaster = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    server_cpu, others = {cpus[0]}, set(cpus[1:])
    for pid in [postmaster, *children_of(postmaster)]:
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(pid, server_cpu)
    os.sched_setaffinity(0, others)


def children_of(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(stat.parent.name))
    return found


def warm_up(pg: LocalPostgres, workflow: LocalWorkflow) -> None:
    """One run on a tiny database: the instance moves to its own parameter group and reboots."""
    pg.create_database("warmup")
    conn = pg.connect("warmup")
    conn.run("CREATE TABLE public.w (id int PRIMARY KEY)")
    conn.close()
    execution = workflow.run(execution_input("warmup", "ignore"))
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="1000,10000", help="table counts, comma-separated")
    parser.add_argument(
        "--policies",
        default="ignore,full",
        help="replica_identity values, comma-separated; `guide`: the seed guide's script instead of the workflow",
    )
    parser.add_argument("--seconds", type=int, default=20, help="each pgbench run (baseline, during)")
    parser.add_argument("--lead", type=float, default=3.0, help="seconds of load before the workflow starts")
    parser.add_argument("--rate", type=int, default=200, help="pgbench transactions per second (-R)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--harness-nice", type=int, default=10, help="niceness of the runner and in-process Lambdas (0: none)"
    )
    parser.add_argument(
        "--split-cpus",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the server on CPU 0, pgbench and the harness on the others (as in AWS: the database host is its own)",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.tables.split(",")]
    policies = args.policies.split(",")
    lock_timeout_ms = environment().lock_timeout_ms
    boto3.setup_default_session()
    results: list[dict[str, Any]] = []
    folder = Path(tempfile.mkdtemp(prefix="live_load_"))
    settings = {
        "max_locks_per_transaction": "512",  # one transaction locks every published table (see db_setup)
        "log_lock_waits": "on",
        "deadlock_timeout": "100ms",  # log_lock_waits reports waits longer than this
        "log_line_prefix": "%m [%p] %u@%d ",
    }
    try:
        with (
            server(**settings) as pg,
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
            RdsEmulator() as emulator,
            LocalWorkflow() as workflow,
        ):
            emulator.add_instance(
                instance_id=INSTANCE,
                server=pg,
                db_name="postgres",
                engine_version=pg.version,
                rds_client=boto3.client("rds"),
                secrets_client=boto3.client("secretsmanager"),
            )
            master = pg.connect()
            master.run(f"CREATE ROLE {identifier(APP_USER)} LOGIN PASSWORD {literal(APP_PASSWORD)}")
            master.close()
            warm_up(pg, workflow)
            # In AWS the Lambdas run off the database host; here they share its 2 cores with pgbench. From
            # now on this process (the runner, moto, the in-process Lambdas) yields the CPU to the server
            # (started above, at normal priority: its backends still do the workflow's SQL) and to pgbench.
            os.nice(args.harness_nice)
            if args.split_cpus:
                split_cpus(pg)
            major = pg.major_version
            for n in sizes:
                template = build_template(pg, n)
                for policy in policies:
                    results.append(scenario(Bench(pg, args, folder), workflow, template, n, policy))
                    say(f"  done: {n:,} tables, {policy}: {results[-1]['workflow_s']:.2f} s")
                pg.drop_database(template)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rows = []
    for r in results:
        ratio = r["during_p99_ms"] / max(r["baseline_p99_ms"], 1e-3)
        r["p99_ratio"] = ratio
        r["goals"] = {
            "no_failed": r["failed"] == 0,
            "wait_within_lock_timeout": max(r["longest_app_ms"], r["longest_lock_wait_ms"]) <= lock_timeout_ms,
            "p99_within_2x": ratio <= GOAL_P99_RATIO,
        }
        rows.append(
            [
                f"{r['tables']:,} x {r['replica_identity']}",
                f"{r['workflow_s']:.2f}",
                f"{r['baseline_tps']:.0f} / {r['during_tps']:.0f}",
                f"{r['baseline_p50_ms']:.1f} / {r['during_p50_ms']:.1f}",
                f"{r['baseline_p99_ms']:.1f} / {r['during_p99_ms']:.1f} ({ratio:.1f}x)",
                f"{r['baseline_failed']} / {r['failed']}",
                f"{r['baseline_longest_ms']:.0f} / {r['longest_app_ms']:.0f}",
                f"{r['longest_lock_wait_ms']:.0f}",
                "reference (no goals)"
                if r["replica_identity"] == GUIDE
                else " ".join(("PASS" if met else "MISS") for met in r["goals"].values()),
            ]
        )
    say(
        f"Setup under live load, PostgreSQL {major}: pgbench at {args.rate} tx/s, {args.clients} clients, as "
        f"{APP_USER} (no superuser); baseline = {args.seconds} s without the workflow; during = the transactions "
        f"overlapping the workflow's run; workflow lock_timeout {lock_timeout_ms} ms"
    )
    say(
        table(
            [
                "tables x replica_identity",
                "workflow s",
                "tps base / during",
                "p50 ms base / during",
                "p99 ms base / during",
                "failed tx base / during",
                "longest app tx ms base / during",
                "longest server lock wait ms (app)",
                "goals: failed, wait, p99",
            ],
            rows,
        )
    )
    judged = [r for r in results if r["replica_identity"] != GUIDE] or results
    worst_failed = max(r["failed"] for r in judged)
    worst_wait = max(max(r["longest_app_ms"], r["longest_lock_wait_ms"]) for r in judged)
    worst_ratio = max(r["p99_ratio"] for r in judged)
    say(f"goal zero failed application transactions: worst {worst_failed}, met: {verdict(worst_failed == 0)}")
    say(
        f"goal no application wait beyond lock_timeout ({lock_timeout_ms} ms): worst {worst_wait:.0f} ms, "
        f"met: {verdict(worst_wait <= lock_timeout_ms)}"
    )
    say(
        f"goal p99 during setup <= {GOAL_P99_RATIO:.0f}x the baseline: worst {worst_ratio:.2f}x, "
        f"met: {verdict(worst_ratio <= GOAL_P99_RATIO)}"
    )
    for r in results:
        if r["errors"]:
            say(f"errors at {r['tables']:,} x {r['replica_identity']}: {r['errors']}")
    figures = {f"{r['tables']}_{r['replica_identity']}": r for r in results}
    say("FIGURES " + json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
