"""Each bench script at its smallest size: it runs to the end and prints its figures.

Benchmarks are not timed tests: these check that the scripts work and report what they should
(tables, goals, figures), never that a time is below a threshold. `make bench` runs the full sizes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def run_bench(module: str, *args: str) -> tuple[str, dict]:
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    [figures] = [line.removeprefix("FIGURES ") for line in done.stdout.splitlines() if line.startswith("FIGURES ")]
    return done.stdout, json.loads(figures)


def goal_lines(output: str) -> list[str]:
    lines = [line for line in output.splitlines() if line.startswith("goal ")]
    assert lines and all(line.endswith(("met: yes", "met: NO")) for line in lines), output
    return lines


@pytest.mark.integration
def test_database_setup_bench_compares_with_the_seed_and_counts_round_trips():
    output, figures = run_bench("db_setup", "--sizes", "10,30", "--repeat", "1")
    assert "| tables |" in output
    assert len(goal_lines(output)) == 2
    for size in ("10", "30"):
        assert figures[size]["seed_s"] > 0 and figures[size]["ours_ignore_s"] > 0 and figures[size]["ours_full_s"] > 0
    # The round trips are counted, and do not grow with the table count (full adds one batch).
    assert figures["10"]["round_trips_ignore"] == figures["30"]["round_trips_ignore"] > 10
    assert figures["10"]["round_trips_full"] == figures["30"]["round_trips_full"]


@pytest.mark.integration
def test_wal_backlog_bench_builds_the_backlog_and_times_both_peeks():
    output, figures = run_bench("wal_backlog", "--sizes-mib", "1,3", "--huge-mib", "1", "--repeat", "1")
    assert len(goal_lines(output)) == 2
    assert figures["3MiB"]["pending_bytes"] >= 3 * 1024 * 1024 > figures["1MiB"]["pending_bytes"] >= 1024 * 1024
    assert figures["3MiB"]["changes"] > figures["1MiB"]["changes"] > 0  # the seed's count grows with the backlog
    assert figures["huge"]["pending_bytes"] >= 1024 * 1024 and figures["huge"]["ours_s"] > 0


@pytest.mark.workflow
def test_workflow_overhead_bench_reads_transitions_and_invocations_from_the_history():
    output, figures = run_bench("workflow_overhead", "--polls", "1,2")
    assert "each extra poll: 3 transitions, 1 invocation" in output
    assert len(goal_lines(output)) == 2
    again = figures["no-reboot path (re-run)"]
    reboots = [v for k, v in figures.items() if k.startswith("reboot path")]
    assert again["polls"] == 0 and again["status"] == "SUCCEEDED" and again["lambda_invocations"] > 5
    assert sorted(r["polls"] for r in reboots) == [2, 3]


@pytest.mark.workflow
def test_live_load_bench_runs_pgbench_beside_the_workflow_and_judges_the_three_goals():
    output, figures = run_bench(
        "live_load",
        "--tables",
        "20",
        "--policies",
        "full,guide",
        "--seconds",
        "4",
        "--lead",
        "0.5",
        "--harness-nice",
        "0",
    )
    assert "| tables x replica_identity |" in output and "| 20 x full " in output
    # The guide's script ran under the same load, as a reference row that no goal judges.
    assert "| 20 x guide " in output and "reference (no goals)" in output
    assert figures["20_guide"]["during_transactions"] > 0 and figures["20_guide"]["failed"] == 0
    assert len(goal_lines(output)) == 3
    run = figures["20_full"]
    # pgbench ran both times (at its fixed rate), the workflow inside the second run, and the waits were read.
    assert run["baseline_tps"] > 0 and run["during_tps"] > 0 and run["during_transactions"] > 0
    assert 0 < run["workflow_s"] < 4 and run["longest_app_ms"] > 0 and run["longest_lock_wait_ms"] >= 0
    assert set(run["goals"]) == {"no_failed", "wait_within_lock_timeout", "p99_within_2x"}


def test_cold_start_bench_times_handler_imports_in_fresh_interpreters():
    output, figures = run_bench("cold_start", "--handlers", "validate_input,verify", "--repeat", "1", "--no-asset")
    assert set(figures["import_ms"]) == {"lambdas.handlers.validate_input", "lambdas.handlers.verify"}
    assert all(ms > 0 for ms in figures["import_ms"].values())
    assert "heaviest top-level imports of lambdas.handlers." in output
    assert len(goal_lines(output)) == 1


@pytest.mark.infra
def test_synth_bench_times_cdk_synth():
    output, figures = run_bench("synth", "--repeat", "1", "--no-bundling")
    assert figures["skipped_s"] > 0
    assert len(goal_lines(output)) == 1
