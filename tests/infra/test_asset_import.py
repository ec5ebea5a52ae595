"""The Lambda asset imported as Lambda would: built by infra/bundling.py for this machine's platform,
every function's handler imported in a fresh interpreter whose path holds only the asset and what
the Lambda runtime provides, with the function's environment, nothing writable outside /tmp.

"What the Lambda runtime provides": the standard library, and boto3 with its dependencies
(infra/bundling.py RUNTIME_PROVIDED, left out of the asset), linked here from .venv at the versions
lambdas/requirements.txt locks (the real runtime brings its own, newer ones). Nothing else: the
interpreter runs with -S (no site-packages) and -P (no script directory).

The asset is built for this machine (its Python and CPU), not for the functions' python3.12 on arm64,
whose wheels this interpreter could not load; it is the same lock, the same pip options, the same
copy of lambdas/. The installed wheels come from the bundling cache (.cache/lambda-deps, keyed by the
lock's text): ~13 s on a first run, a copy afterwards.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.cold_start import LAMBDA_ENVIRONMENT, build_asset
from infra.bundling import ASSET_CA_BUNDLE, LAMBDAS_DIR, RUNTIME_PROVIDED
from lambdas.shared.names import HANDLERS_PACKAGE
from lambdas.shared.steps import STEPS
from scripts.lock import ROOT, RUNTIME_LOCK
from tests.infra.synth import Synth

pytestmark = pytest.mark.infra

PROBE = Path(__file__).with_name("lambda_import_probe.py")
HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
HOST_PLATFORM = f"manylinux2014_{platform.machine()}"
ACCOUNT = "123456789012"
LAMBDA_TMP = "/tmp"  # noqa: S108 - a function's one writable directory
REF_IS_ARN = {"AWS::SNS::Topic"}  # CloudFormation's Ref gives these resources' ARN, others' name


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions() -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", (ROOT / RUNTIME_LOCK).read_text(), flags=re.M)
    return {normalized(name): version for name, version in pins}


def dist_name(dist_info: Path) -> str:
    return normalized(dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0])


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under root with its size and mtime: a write the audit hook cannot see (C code) shows here."""
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def lambda_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """/var/task (the asset), /var/runtime, a HOME and a working directory; all read-only to the probe."""
    base = tmp_path_factory.mktemp("lambda")
    dirs = {name: base / name for name in ("task", "runtime", "home", "cwd", "pycache")}
    for path in dirs.values():
        path.mkdir()
    build_asset(dirs["task"], python_version=HOST_PYTHON, platform=HOST_PLATFORM, with_ca_bundle=True)
    for name in RUNTIME_PROVIDED:
        dist = importlib.metadata.distribution(name)
        assert dist.version == locked_versions()[normalized(name)], f"{name} in .venv is not the locked version"
        tops = {Path(str(f)).parts[0] for f in dist.files or ()} - {"..", "bin", "__pycache__"}
        for top in tops:
            target = dirs["runtime"] / top
            if not target.exists():
                target.symlink_to(Path(str(dist.locate_file(top))))
    return dirs


def resolved(value: Any, resources: dict[str, Any]) -> str:
    """An environment variable's value as CloudFormation would give it: Ref/GetAtt as a name or ARN."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:  # an ARN built from pseudo parameters (the check state machine's, by its name)
        separator, parts = value["Fn::Join"]
        pseudo = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": ACCOUNT}
        return separator.join(
            p if isinstance(p, str) else pseudo.get(p.get("Ref"), "") or resolved(p, resources) for p in parts
        )
    [(function, argument)] = value.items()
    logical_id = argument if function == "Ref" else argument[0]
    type_ = resources[logical_id]["Type"]
    if function == "Ref" and type_ not in REF_IS_ARN:
        return logical_id
    assert function == "Ref" or argument[1] == "Arn", value
    return f"arn:aws:{type_.split('::')[1].lower()}:us-east-1:{ACCOUNT}:{logical_id}"


def functions(synth: Synth, dirs: dict[str, Path]) -> list[dict[str, Any]]:
    """Each function of the template that runs the asset: its handler and the environment Lambda gives it."""
    resources = synth.template_json["Resources"]
    found = []
    for logical_id, resource in synth.resources("AWS::Lambda::Function").items():
        props = resource["Properties"]
        if not props.get("Handler", "").startswith(f"{HANDLERS_PACKAGE}."):
            continue
        variables = {k: resolved(v, resources) for k, v in props["Environment"]["Variables"].items()}
        environment = {
            **{k: v for k, v in LAMBDA_ENVIRONMENT.items() if k != "PYTHONDONTWRITEBYTECODE"},
            # What the runtime sets (docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html)
            "AWS_LAMBDA_FUNCTION_NAME": logical_id,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props["MemorySize"]),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{logical_id}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
            "AWS_ACCESS_KEY_ID": "ASIAEXAMPLEEXAMPLE00",
            "AWS_SECRET_ACCESS_KEY": "example-secret-key",
            "AWS_SESSION_TOKEN": "example-session-token",
            "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "_HANDLER": props["Handler"],
            "LAMBDA_TASK_ROOT": str(dirs["task"]),
            "LAMBDA_RUNTIME_DIR": str(dirs["runtime"]),
            "HOME": str(dirs["home"]),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            **variables,
        }
        found.append({"handler": props["Handler"], "environment": environment})
    return found


def run_probe(
    plan: dict[str, Any], path: list[Path], dirs: dict[str, Path], tmp_path: Path, env: dict[str, str]
) -> dict[str, Any]:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    out = subprocess.run(
        [sys.executable, "-S", "-P", str(PROBE), str(plan_file)],
        cwd=dirs["cwd"],
        # Read at start-up, so the same for every function: the path, and compiled modules kept in /tmp
        # (Lambda writes none: its /var/task is read-only; without them each fork compiles lambdas/ again).
        env={**env, "PYTHONPATH": ":".join(map(str, path)), "PYTHONPYCACHEPREFIX": str(dirs["pycache"])},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    report: dict[str, Any] = json.loads(out.stdout)
    return report


def importable(root: Path) -> list[str]:
    """The top-level modules and packages in root."""
    return sorted(
        p.stem if p.suffix == ".py" else p.name
        for p in root.iterdir()
        if (p.suffix == ".py" or (p / "__init__.py").is_file()) and p.name != "lambdas"
    )


def test_every_handler_imports_with_only_the_asset_and_the_runtime_and_writes_nothing_outside_tmp(
    default: Synth, lambda_dirs: dict[str, Path], tmp_path: Path
) -> None:
    # Given the asset, the runtime's packages, every function's handler and environment from the template
    dirs = lambda_dirs
    planned = functions(default, dirs)
    assert sorted(f["handler"] for f in planned) == sorted(step.handler for step in STEPS)
    before = {name: tree(dirs[name]) for name in ("task", "runtime", "home", "cwd")}
    plan = {
        "writable": LAMBDA_TMP,
        "read_only": [str(dirs[name]) for name in ("task", "runtime", "home", "cwd")],
        "preload": importable(dirs["task"]) + importable(dirs["runtime"]),
        "functions": planned,
    }

    # When each is imported in its own process, as a cold start does
    report = run_probe(plan, [dirs["task"], dirs["runtime"]], dirs, tmp_path, planned[0]["environment"])

    # Then the interpreter's path was the asset, the runtime and the standard library, nothing else
    task, runtime, *stdlib = report["sys_path"]
    assert (task, runtime) == (str(dirs["task"]), str(dirs["runtime"]))
    assert stdlib and all(p.startswith(sys.base_prefix) and "site-packages" not in p for p in stdlib), stdlib
    # every third-party package imported, and every handler, with no write refused
    assert report["preload_errors"] == [] and report["preload_denied"] == []
    assert set(report["preloaded"]) >= {"pydantic", "aws_lambda_powertools", "pg8000", "boto3", "botocore"}
    failed = {f["handler"]: f["error"] for f in report["functions"] if f["error"]}
    assert failed == {}, "\n".join(failed.values())
    assert {f["handler"]: f["denied"] for f in report["functions"] if f["denied"]} == {}
    assert {f["handler"]: f["outside_path"] for f in report["functions"] if f["outside_path"]} == {}
    assert len(report["functions"]) == len(STEPS)
    # and nothing changed in the read-only directories (writes from C code bypass the audit hook)
    assert {name: tree(dirs[name]) for name in before} == before


def test_the_probe_refuses_and_reports_a_write_outside_tmp_and_allows_one_inside(tmp_path: Path) -> None:
    # Given modules that write beside themselves, to HOME, to the working directory and to /tmp at import
    package = tmp_path / "task"
    (package / "writers").mkdir(parents=True)
    (package / "writers" / "__init__.py").write_text("")
    writes = {
        "beside": "Path(__file__).with_name('state.json').write_text('{}')",
        "home": "Path.home().joinpath('.config').mkdir()",
        "cwd": "open('out.log', 'a').close()",
        "tmp": "tempfile.NamedTemporaryFile(dir='/tmp').close()",
    }
    for name, code in writes.items():
        (package / "writers" / f"{name}.py").write_text(
            f"import tempfile\nfrom pathlib import Path\n{code}\ndef handler(event, context): ...\n"
        )
    dirs = {name: tmp_path / name for name in ("home", "cwd", "pycache")}
    for path in dirs.values():
        path.mkdir()
    environment = {"HOME": str(dirs["home"]), "PATH": "/usr/bin:/bin"}
    plan = {
        "writable": LAMBDA_TMP,
        "read_only": [str(package), str(dirs["home"]), str(dirs["cwd"])],
        "preload": [],
        "functions": [{"handler": f"writers.{name}.handler", "environment": environment} for name in writes],
    }

    # When
    report = run_probe(plan, [package], dirs, tmp_path, environment)

    # Then each write outside /tmp failed as on a read-only filesystem and was reported; /tmp's succeeded
    results = {f["handler"].split(".")[1]: f for f in report["functions"]}
    for name in ("beside", "home", "cwd"):
        assert "PermissionError" in results[name]["error"], name
        assert len(results[name]["denied"]) == 1, results[name]
    assert results["beside"]["denied"] == [f"open {package / 'writers' / 'state.json'}"]
    assert results["tmp"]["error"] is None and results["tmp"]["denied"] == []
    assert list(dirs["home"].iterdir()) == [] and list(dirs["cwd"].iterdir()) == []


def test_the_asset_holds_lambdas_and_the_locked_runtime_packages_only(lambda_dirs: dict[str, Path]) -> None:
    asset = lambda_dirs["task"]
    # The locked distributions, less those the runtime provides: no test or dev tooling
    dist_infos = sorted(asset.glob("*.dist-info"))
    wanted = set(locked_versions()) - {normalized(n) for n in RUNTIME_PROVIDED}
    assert {dist_name(d) for d in dist_infos} == wanted
    # every other top-level entry is the package or a file of one of them (no infra/, local/, tests/)
    owned = {
        row.split(",")[0].split("/")[0] for d in dist_infos for row in (d / "RECORD").read_text().splitlines() if row
    }
    assert {p.name for p in asset.iterdir()} - owned - {d.name for d in dist_infos} == {"lambdas"}
    # and the package is lambdas/ as in the repository, without bytecode, tests or local code
    copied = {str(p.relative_to(asset / "lambdas")) for p in (asset / "lambdas").rglob("*") if p.is_file()}
    source = {
        str(p.relative_to(LAMBDAS_DIR))
        for p in LAMBDAS_DIR.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    # plus the RDS CA bundle the build writes (tests/infra/test_ca_bundle.py checks its certificates)
    assert copied == source | {str(ASSET_CA_BUNDLE.relative_to("lambdas"))}
    assert not [p for p in copied if re.search(r"(^|/)(test_[^/]*|conftest)\.py$|(^|/)(tests|local|infra)/", p)]
