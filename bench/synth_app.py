"""app.py as bench/synth.py runs it: BENCH_SKIP_BUNDLING skips bundling as the tests do (the CLI
refuses `-c aws:...` keys, so the context the CLI hands the app is extended here, before aws_cdk
starts the jsii kernel, which copies the environment)."""

import json
import os
import runpy
from pathlib import Path

if os.environ.get("BENCH_SKIP_BUNDLING"):
    context = json.loads(os.environ.get("CDK_CONTEXT_JSON") or "{}")
    os.environ["CDK_CONTEXT_JSON"] = json.dumps({**context, "aws:cdk:bundling-stacks": []})

runpy.run_path(str(Path(__file__).resolve().parent.parent / "app.py"), run_name="__main__")
