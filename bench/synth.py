"""Synth: `cdk synth -q` wall time, with bundling skipped (context `aws:cdk:bundling-stacks=[]`, as the tests
synth) and with the real bundling (pip for the Lambda platform) into a fresh output dir, then again into
the same one (CDK reuses a bundled asset while lambdas/ is unchanged). The bundling runs check a
throw-away CA certificate made in a temp dir (bench/synth_app.py), never lambdas/certs.

    python -m bench.synth [--repeat 3] [--no-bundling]
"""

from __future__ import annotations

import argparse
import datetime
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


def throwaway_ca(path: Path) -> None:
    """A self-signed "Amazon RDS" CA, only to pass the bundle check; it lives in the temp dir."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Amazon RDS bench Root CA (not trusted)")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def synth(tmp: Path, *, bundling: bool, out: Path | None = None) -> float:
    """One `cdk synth`; into a fresh output dir unless `out` is given (a kept cdk.out holds the
    bundled asset, which CDK reuses while lambdas/ is unchanged)."""
    out = out or Path(tempfile.mkdtemp(prefix="cdk.out-", dir=tmp))
    command = [str(CDK), "synth", "-q", "-o", str(out), "--app", f"{sys.executable} -m bench.synth_app"]
    env = dict(os.environ)
    if bundling:
        env["BENCH_CA_BUNDLE"] = str(tmp / "throwaway-ca.pem")
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
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp_name:
        tmp = Path(tmp_name)
        throwaway_ca(tmp / "throwaway-ca.pem")
        skipped, bundled, cached = [], [], []
        for _ in range(args.repeat):
            skipped.append(synth(tmp, bundling=False))
            if not args.no_bundling:
                kept = Path(tempfile.mkdtemp(prefix="cdk.out-kept-", dir=tmp))
                bundled.append(synth(tmp, bundling=True, out=kept))
                cached.append(synth(tmp, bundling=True, out=kept))
    rows = [["bundling skipped", f"{median(skipped):.1f}", "1.00x"]]
    figures: dict[str, Any] = {"skipped_s": median(skipped)}
    if bundled:
        rows.append(["with bundling (pip)", f"{median(bundled):.1f}", f"{median(bundled) / median(skipped):.2f}x"])
        rows.append(
            [
                "with bundling, cdk.out kept (asset cached)",
                f"{median(cached):.1f}",
                f"{median(cached) / median(skipped):.2f}x",
            ]
        )
        figures["bundled_s"] = median(bundled)
        figures["bundled_cached_s"] = median(cached)
    say(f"cdk synth -q (median of {args.repeat}, alternating):")
    say(table(["synth", "seconds", "vs skipped"], rows))
    for name, seconds in figures.items():
        say(f"goal <= {GOAL_SECONDS:.0f} s ({name}): {seconds:.1f} s, met: {verdict(seconds <= GOAL_SECONDS)}")
    say("FIGURES " + json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
