"""Workflow overhead: the real ASL run end to end on moto with the RDS emulator and a local PostgreSQL,
from the execution history: run time excluding Wait states, state transitions, Lambda invocations and
reboot polls, on the reboot path (a stock instance on a default parameter group) and the no-reboot path
(the same instance run again, now ready). Two reboot runs with different poll counts give the cost of
one more poll.

    python -m bench.workflow_overhead [--polls 1,4] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import boto3
from moto import mock_aws

from bench.common import median, say, table, verdict
from local.demo import EXECUTION_INPUT, INSTANCE, add_sample_instance, start_sample_server
from local.rds_emulator import RdsEmulator
from local.workflow_runner import Execution, LocalWorkflow

GOAL_SECONDS = 10.0
GOAL_BASE_TRANSITIONS = 25
GOAL_PER_POLL = 3


def figures(execution: Execution, wall_seconds: float) -> dict[str, Any]:
    events = execution.events
    waited = 0.0
    entered: float | None = None
    for event in events:
        if event["type"] == "WaitStateEntered":
            entered = event["timestamp"].timestamp()
        elif event["type"] == "WaitStateExited" and entered is not None:
            waited += event["timestamp"].timestamp() - entered
            entered = None
    states = execution.states_entered
    return {
        "status": execution.status,
        "wall_s": wall_seconds,
        "waits_s": waited,
        "run_s": wall_seconds - waited,
        "transitions": len(states),
        "lambda_invocations": sum(1 for e in events if e["type"] in ("LambdaFunctionScheduled", "TaskScheduled")),
        "polls": states.count("CheckRebootStatus"),
    }


def measure(polls: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(reboot path, no-reboot path) on a fresh server; the instance stays `rebooting` for `polls` polls."""
    server = start_sample_server()
    try:
        with (
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
            RdsEmulator(describes_per_reboot=polls) as emulator,
            LocalWorkflow() as workflow,
        ):
            add_sample_instance(emulator, server)
            results = []
            for _ in range(2):
                started = time.perf_counter()
                execution = workflow.run(EXECUTION_INPUT)
                results.append(figures(execution, time.perf_counter() - started))
                assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
            assert emulator.instances[INSTANCE].reboots == 1
            return results[0], results[1]
    finally:
        server.destroy()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", default="1,4", help="reboot-loop lengths to run (describes until available)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    boto3.setup_default_session()
    poll_counts = [int(p) for p in args.polls.split(",")]
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.repeat):
        for polls in poll_counts:
            reboot, again = measure(polls)
            runs.setdefault(f"reboot path, {reboot['polls']} poll(s)", []).append(reboot)
            runs.setdefault("no-reboot path (re-run)", []).append(again)
    rows, result = [], {}
    for name, measured in runs.items():
        first = measured[0]
        run_s = median([m["run_s"] for m in measured])
        base = first["transitions"] - GOAL_PER_POLL * first["polls"]
        result[name] = {**first, "run_s": run_s, "base_transitions": base}
        rows.append(
            [
                name,
                f"{run_s:.2f}",
                f"{median([m['waits_s'] for m in measured]):.2f}",
                first["transitions"],
                first["polls"],
                base,
                first["lambda_invocations"],
            ]
        )
    say(f"Workflow overhead (local: moto + RDS emulator + PostgreSQL; median of {len(next(iter(runs.values())))}):")
    say(
        table(
            [
                "path",
                "run s (no waits)",
                "waits s",
                "transitions",
                "polls",
                "transitions - 3/poll",
                "Lambda invocations",
            ],
            rows,
        )
    )
    reboots = [r for n, r in result.items() if n.startswith("reboot")]
    if len(reboots) >= 2:
        a, b = sorted(reboots, key=lambda r: r["polls"])[:: len(reboots) - 1]
        per_poll = (b["transitions"] - a["transitions"]) / max(1, b["polls"] - a["polls"])
        say(
            f"each extra poll: {per_poll:.0f} transitions, "
            f"{(b['lambda_invocations'] - a['lambda_invocations']) / max(1, b['polls'] - a['polls']):.0f} invocation"
        )
    worst_s = max(r["run_s"] for r in result.values())
    worst_base = max(r["base_transitions"] for r in result.values())
    say(
        f"goal <= {GOAL_SECONDS:.0f} s per run without waits: worst {worst_s:.2f} s, "
        f"met: {verdict(worst_s <= GOAL_SECONDS)}"
    )
    say(
        f"goal <= {GOAL_BASE_TRANSITIONS} transitions + {GOAL_PER_POLL} per poll: worst {worst_base} + 3/poll, "
        f"met: {verdict(worst_base <= GOAL_BASE_TRANSITIONS)}"
    )
    say("FIGURES " + json.dumps(result, default=str))
    return result


if __name__ == "__main__":
    main()
