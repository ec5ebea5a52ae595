"""A run interrupted at any point leaves no server, process or folder behind: the postmaster
detaches from whoever started it, so the reaper (local/reaper.py) stops it when its starter dies."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

STARTER = """
import sys, time
from local.postgres_server import _TEMPLATES, LocalPostgres
server = LocalPostgres().init().start()
print(server.port, server.root, *_TEMPLATES.values(), flush=True)
time.sleep(120)
"""


def accepts_connections(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def postmasters_of(root: str) -> list[str]:
    listing = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if f"-D {root}/data" in line]


@pytest.mark.parametrize("ending", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_starter_leaves_no_server_and_no_folder(ending: signal.Signals) -> None:
    starter = subprocess.Popen([sys.executable, "-c", STARTER], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        port_text, root, template = starter.stdout.readline().split()
        port = int(port_text)
        assert accepts_connections(port) and postmasters_of(root) and Path(template).exists()
        starter.send_signal(ending)
        starter.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
            accepts_connections(port) or Path(root).exists() or Path(template).exists()
        ):
            time.sleep(0.2)
        assert not accepts_connections(port)
        assert postmasters_of(root) == []
        assert not Path(root).exists() and not Path(template).exists()
    finally:
        starter.kill()
