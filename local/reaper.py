"""Stops the local servers of a process that died without stopping them (SIGTERM from a timeout,
SIGKILL, a crash): PostgreSQL's postmaster detaches from its starter (pg_ctl calls setsid), so
nothing else would.

One reaper per process that starts servers, in its own session so that signals sent to the
starter's process group spare it. The starter keeps a pipe open to the reaper's stdin and writes
one tab-separated line per event: `server <root> <bin_dir>` when a server starts, `files <path>` for
a folder to remove, `gone <root>` once the starter has cleaned up itself. End of input means the starter is
gone: every server still registered is stopped (immediate mode) and its folders are removed.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path


def reap(servers: dict[str, str], folders: set[str]) -> None:
    for root, bin_dir in servers.items():
        data_dir = Path(root) / "data"
        if (data_dir / "postmaster.pid").exists():
            subprocess.run(
                [str(Path(bin_dir) / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"],
                user="postgres" if os.geteuid() == 0 and _has_postgres_user() else None,
                capture_output=True,
                check=False,
            )
    for folder in [*servers, *folders]:
        shutil.rmtree(folder, ignore_errors=True)


def _has_postgres_user() -> bool:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return True


def main() -> None:
    servers: dict[str, str] = {}
    folders: set[str] = set()
    for line in sys.stdin:
        kind, _, rest = line.rstrip("\n").partition("\t")
        if kind == "server":
            root, _, bin_dir = rest.partition("\t")
            servers[root] = bin_dir
        elif kind == "files":
            folders.add(rest)
        elif kind == "gone":
            servers.pop(rest, None)
            folders.discard(rest)
    reap(servers, folders)


if __name__ == "__main__":
    main()
