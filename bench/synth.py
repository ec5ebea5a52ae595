"""Synth: `cdk synth -q` wall time, with bundling skipped (context `aws:cdk:bundling-stacks=[]`, as the tests
synth) and with the real bundling (infra/bundling.py) in three cases:
- cold: a fresh output dir and an empty dependency cache, so pip installs the wheels for the Lambda
  platform (the first synth on a new machine, or after a change to lambdas/requirements.txt; pip's own
  download cache is left as it is);
- warm dependency cache: a fresh output dir, the wheels copied from the cache the cold run filled (the
  synth after a change to lambdas/ code, which makes CDK bundle again);
- cdk.out kept: again into the cold run's output dir (CDK reuses a bundled asset while lambdas/ is unchanged).
Each run's dependency cache ($RDS_CDC_SETUP_BUNDLE_CACHE) is a temp dir, never the repo's .cache/. The
bundling runs ship the real RDS CA bundle (from node_modules, as every synth does).

    python -m bench.synth [--repeat 3] [--no-bundling]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import median, say, table, timed, verdict

ROOT = Path(__file__).resolve().parent.parent
CDK = ROOT / "node_modules" / ".bin" / "cdk"
GOAL_SECONDS = 10.0
CACHE_ENV = "RDS_CDC_SETUP_BUNDLE_CACHE"  # infra/bundling.py reads it (not imported: that loads aws_cdk)


def synth(tmp: Path, *, bundling: bool, out: Path | None = None, cache: Path | None = None) -> float:
    """One `cdk synth`; into a fresh output dir unless `out` is given (a kept cdk.out holds the
    bundled asset, which CDK reuses while lambdas/ is unchanged), with `cache` as the dependency cache."""
    out = out or Path(tempfile.mkdtemp(prefix="cdk.out-", dir=tmp))
    command = [str(CDK), "synth", "-q", "-o", str(out), "--app", f"{sys.executable} -m bench.synth_app"]
    env = dict(os.environ)
    if bundling:
        env[CACHE_ENV] = str(cache or Path(tempfile.mkdtemp(prefix="deps-", dir=tmp)))
    else:
        env["BENCH_SKIP_BUNDLING"] = "1"  # context aws:cdk:bundling-stacks=[], as the tests synth

    def run() -> None:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"cdk synth failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")

    return timed(run)[0]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-bundling", action="store_true")
    args = parser.parse_args(argv)
    times: dict[str, list[float]] = {"skipped_s": []}
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp_name:
        tmp = Path(tmp_name)
        for _ in range(args.repeat):
            times["skipped_s"].append(synth(tmp, bundling=False))
            if not args.no_bundling:
                kept = Path(tempfile.mkdtemp(prefix="cdk.out-kept-", dir=tmp))
                cache = Path(tempfile.mkdtemp(prefix="deps-", dir=tmp))  # empty: this run's cold synth fills it
                times.setdefault("bundled_cold_s", []).append(synth(tmp, bundling=True, out=kept, cache=cache))
                times.setdefault("bundled_warm_deps_s", []).append(synth(tmp, bundling=True, cache=cache))
                times.setdefault("bundled_cached_s", []).append(synth(tmp, bundling=True, out=kept, cache=cache))
    figures = {name: median(values) for name, values in times.items()}
    labels = {
        "skipped_s": "bundling skipped",
        "bundled_cold_s": "with bundling, empty dependency cache (pip)",
        "bundled_warm_deps_s": "with bundling, fresh cdk.out, dependency cache warm",
        "bundled_cached_s": "with bundling, cdk.out kept (asset cached)",
    }
    rows = [
        [labels[name], f"{seconds:.1f}", f"{seconds / figures['skipped_s']:.2f}x"] for name, seconds in figures.items()
    ]
    say(f"cdk synth -q (median of {args.repeat}, alternating):")
    say(table(["synth", "seconds", "vs skipped"], rows))
    notes = {
        "bundled_cold_s": ", first synth on a new machine or after a requirements change; the goal is for code changes",
        "bundled_warm_deps_s": ", the synth after a change to lambdas/ code",
    }
    for name, seconds in figures.items():
        met = verdict(seconds <= GOAL_SECONDS)
        say(f"goal <= {GOAL_SECONDS:.0f} s ({name}{notes.get(name, '')}): {seconds:.1f} s, met: {met}")
    say("FIGURES " + json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
