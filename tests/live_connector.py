"""A live connector stand-in: pg_recvlogical from the server's own binaries, streaming a slot as
the CDC user and confirming what it received every second. Always stopped on exit, stopped
(SIGSTOP) or not, whatever the test did."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from local.postgres_server import LocalPostgres


@dataclass
class LiveConnector:
    process: subprocess.Popen
    output: Path  # what it received: the pgoutput stream as written by pg_recvlogical
    server: LocalPostgres
    database: str
    slot: str

    @property
    def pid(self) -> int | None:
        """The backend streaming the slot (pg_replication_slots.active_pid)."""
        return slot_state(self.server, self.database, self.slot)[1]

    @property
    def confirmed_lsn(self) -> str:
        return slot_state(self.server, self.database, self.slot)[2]

    def received(self) -> bytes:
        return self.output.read_bytes() if self.output.exists() else b""

    def pause(self) -> None:
        """Still connected (the slot stays active), but it no longer reads nor confirms."""
        self.process.send_signal(signal.SIGSTOP)

    def ended(self, timeout: float = 10) -> bool:
        """Did the process exit (its session was ended)?"""
        self.process.send_signal(signal.SIGCONT)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True


def slot_state(server: LocalPostgres, database: str, slot: str) -> list:
    """[active, active_pid, confirmed_flush_lsn] of the slot, or [False, None, None] without one."""
    conn = server.connect_admin(database)
    try:
        found = conn.run(
            "SELECT active, active_pid, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = :s",
            s=slot,
        )
    finally:
        conn.close()
    return found[0] if found else [False, None, None]


@contextmanager
def live_connector(
    server: LocalPostgres,
    *,
    database: str,
    user: str,
    password: str,
    output: Path,
    slot: str = "streamkap_pgoutput_slot",
    publication: str = "streamkap_pub",
) -> Iterator[LiveConnector]:
    server.sync_rds_replication()  # as RDS would: rds_replication membership lets the user stream
    process = subprocess.Popen(
        [
            str(server.client_tool("pg_recvlogical")),
            *("-h", server.host, "-p", str(server.port), "-U", user, "-d", database),
            *("--slot", slot, "--start", "--no-loop", "-f", str(output)),
            *("--status-interval", "1", "--fsync-interval", "1"),
            *("-o", "proto_version=1", "-o", f"publication_names={publication}"),
        ],
        env={**os.environ, "PGPASSWORD": password},
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while not slot_state(server, database, slot)[0]:
            if process.poll() is not None or time.monotonic() > deadline:
                complaint = process.stderr.read() if process.stderr and process.poll() is not None else ""
                raise AssertionError(f"pg_recvlogical did not attach: {complaint!r}")
            time.sleep(0.05)
        yield LiveConnector(process, output, server, database, slot)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a stopped process would not die of SIGTERM
            process.kill()
        process.wait()
        if process.stderr:
            process.stderr.close()
