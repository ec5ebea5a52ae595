"""The default stack's template, synthesized once per change of its sources and kept under .cache/synth/:
the workflow tests read each step's policies from it (local/step_policies.py). Importing the CDK costs
seconds, so tests/infra/synth.py is imported only to synthesize."""

from __future__ import annotations

import fcntl
import hashlib
import json
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


# What the synthesized policies depend on: a change to any of these synthesizes again.
TEMPLATE_SOURCES = ("app.py", "cdk.json", "infra", "lambdas/shared", "statemachine", "tests/infra/synth.py")
TEMPLATE_CACHE = ROOT / ".cache" / "synth"


def sources_hash() -> str:
    digest = hashlib.sha256()
    for distribution in ("aws-cdk-lib", "cdk-nag", "constructs"):
        digest.update(f"{distribution}=={metadata.version(distribution)}\n".encode())
    for source in TEMPLATE_SOURCES:
        path = ROOT / source
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(f"{file.relative_to(ROOT)}\n".encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def cached_template(context: dict[str, Any] | None = None, cache: Path = TEMPLATE_CACHE) -> dict[str, Any]:
    """The stack's template with `context` (cdk.json's defaults otherwise), synthesized once per change of
    its sources (sources_hash) and kept under .cache/synth/; concurrent sessions (pytest-xdist workers,
    the majors' runs) synthesize once."""
    context = context or {}
    cache.mkdir(parents=True, exist_ok=True)
    of_context = hashlib.sha256(json.dumps(context, sort_keys=True).encode()).hexdigest()[:8]
    path = cache / f"template-{of_context}-{sources_hash()}.json"
    with (cache / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            with tempfile.TemporaryDirectory() as outdir:
                from tests.infra.synth import synthesize

                template = synthesize(Path(outdir), **context).template_json
            for stale in cache.glob(f"template-{of_context}-*.json"):
                stale.unlink()
            partial = path.with_suffix(".partial")
            partial.write_text(json.dumps(template))
            partial.replace(path)
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded
