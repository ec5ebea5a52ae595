"""What the bench scripts share: the local environment, a throw-away server, timing, a table printer."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

os.environ.update(
    AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    AWS_ACCESS_KEY_ID="bench",  # moto only: no AWS account is used
    AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 (moto only)
    AWS_EC2_METADATA_DISABLED="true",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_LOG_LEVEL="WARNING",
    DB_TLS="disable",
    JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=os.environ.get("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20"),
    CDK_DISABLE_CLI_TELEMETRY="true",
)

from lambdas.shared.models import Target
from local.postgres_server import LocalPostgres


@contextmanager
def server(**settings: str) -> Iterator[LocalPostgres]:
    """A fresh server at wal_level=logical, destroyed (data dir and WAL included) on exit."""
    pg = LocalPostgres(settings={"wal_level": "logical", **settings}).init().start()
    try:
        yield pg
    finally:
        pg.destroy()


def local_target(pg: LocalPostgres, database: str) -> Target:
    """What DescribeTarget would say of a database on the bench's server (already at wal_level=logical)."""
    return Target(
        instance_id="bench",
        engine="postgres",
        engine_version=str(pg.major_version),
        major_version=pg.major_version,
        status="available",
        parameter_group="custom",
        parameter_group_family=f"postgres{pg.major_version}",
        parameter_apply_status="in-sync",
        host=pg.host,
        port=pg.port,
        database=database,
        master_secret_arn="unused: the bench connects with the master credentials",  # noqa: S106 (not a secret)
    )


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table, so the figures paste straight into docs/BENCHMARKS.md."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells[1:])])


def verdict(met: bool) -> str:
    return "yes" if met else "NO"


def say(text: str = "") -> None:
    print(text, flush=True)
