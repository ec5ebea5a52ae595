"""Imports Lambda handlers as the runtime would; run by tests/infra/test_asset_import.py, never imported.

    python -S -P tests/infra/lambda_import_probe.py PLAN.json    (PYTHONPATH=<asset>:<runtime>)

Stdlib only: the interpreter's path holds the asset and the runtime's packages, nothing else.
A Lambda function's filesystem is read-only but for /tmp; this process has the test machine's, so an
audit hook plays the read-only filesystem (it works for root too, where chmod would not): every write
(open for writing, mkdir, rename, remove, ...) outside /tmp, or inside a directory the plan marks
read-only (the asset, the runtime, HOME, the working directory, all of them under /tmp here), fails
with PermissionError, as on Lambda, and is recorded.

The process first imports the third-party packages of the asset and the runtime (each must import),
then forks once per function: the child takes that function's environment and imports its handler,
so each handler's own modules (lambdas.*) are imported in a process that has never seen another
handler's. After each child the process imports the third-party modules that child loaded, so the
next ones spend their time on lambdas/. Prints one JSON report on stdout.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

WRITE_EVENTS = {
    "os.mkdir",
    "os.rename",
    "os.remove",
    "os.rmdir",
    "os.symlink",
    "os.link",
    "os.truncate",
    "os.chmod",
    "os.chown",
    "os.utime",
    "shutil.copyfile",
    "shutil.copytree",
    "shutil.rmtree",
    "shutil.move",
}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

plan: dict[str, Any] = json.loads(Path(sys.argv[1]).read_text())
WRITABLE = os.path.realpath(plan["writable"])
READ_ONLY = [os.path.realpath(p) for p in plan["read_only"]]
denied: list[str] = []


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _writes(event: str, args: tuple[Any, ...]) -> str | None:
    """The path this event writes to, or None for a read (or an event that touches no path)."""
    if event == "open":
        path, mode, flags = args
        if isinstance(mode, str):
            writes = any(c in mode for c in "wax+")
        else:
            writes = isinstance(flags, int) and bool(flags & WRITE_FLAGS)
        return os.fsdecode(path) if writes and isinstance(path, str | bytes) else None
    if event in WRITE_EVENTS and args and isinstance(args[0], str | bytes | os.PathLike):
        return os.fsdecode(args[0])
    return None


def _read_only_filesystem(event: str, args: tuple[Any, ...]) -> None:
    path = _writes(event, args)
    if path is None:
        return
    real = os.path.realpath(os.fsdecode(path))
    if _inside(real, "/dev"):
        return
    if _inside(real, WRITABLE) and not any(_inside(real, root) for root in READ_ONLY):
        return
    denied.append(f"{event} {real}")
    raise PermissionError(13, "Read-only file system (lambda_import_probe)", real)


sys.addaudithook(_read_only_filesystem)


def _import(handler: str) -> None:
    module, name = handler.rsplit(".", 1)
    if not callable(getattr(importlib.import_module(module), name)):
        raise TypeError(f"{handler} is not callable")


def _outside_path() -> list[str]:
    """Modules loaded from a file outside the interpreter's path (none should be)."""
    roots = [os.path.abspath(p) for p in sys.path if p]
    modules = [(name, m) for name, m in list(sys.modules.items()) if name not in ("__main__", "__mp_main__")]
    files = {name: getattr(m, "__file__", None) for name, m in modules}
    return sorted(
        f"{name} {f}" for name, f in files.items() if f and not any(_inside(os.path.abspath(f), root) for root in roots)
    )


def _in_child(function: dict[str, Any]) -> dict[str, Any]:
    os.environ.clear()
    os.environ.update(function["environment"])
    denied.clear()
    try:
        _import(function["handler"])
        error = None
    except BaseException:
        error = traceback.format_exc()
    third_party = sorted(name for name in sys.modules if name.split(".")[0] != "lambdas")
    return {
        "handler": function["handler"],
        "error": error,
        "denied": list(denied),
        "outside_path": _outside_path(),
        "third_party": third_party,
    }


def main() -> None:
    preloaded, errors = [], []
    for name in plan["preload"]:
        try:
            importlib.import_module(name)
            preloaded.append(name)
        except BaseException:
            errors.append(traceback.format_exc())
    results = []
    for function in plan["functions"]:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: one function's cold start
            os.close(read)
            with os.fdopen(write, "w") as out:
                out.write(json.dumps(_in_child(function)))
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as pipe:
            report = pipe.read()
        _, status = os.waitpid(pid, 0)
        result = json.loads(report) if report else {"handler": function["handler"], "error": f"status {status}"}
        # What the handler needed besides its own modules is loaded here too, once, so that the next
        # children spend their time on lambdas/ (a warm-up only: each child proves its own imports).
        for name in result.pop("third_party", []):
            if name not in sys.modules:
                with contextlib.suppress(Exception):
                    importlib.import_module(name)
        results.append(result)
    print(
        json.dumps(
            {
                "sys_path": sys.path,
                "preloaded": preloaded,
                "preload_errors": errors,
                "preload_denied": denied,
                "functions": results,
            }
        )
    )


main()
