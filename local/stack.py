"""The local emulated stack as a background process, for the CLI's `--local` mode.

`make demo` runs one execution in one process. The CLI needs state that outlives a command
(`setup`, then `status`, then `teardown`), so the same pieces run here in a process of their
own: the demo's sample PostgreSQL behind the RDS emulator, the three state machines (setup,
teardown, fleet) deployed on moto, and a moto server on 127.0.0.1 that the CLI's boto3 clients talk to, exactly as they
would talk to AWS. `stop()` (the CLI's `stop-local`) ends it and throws the database away."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from local.workflow_runner import ROOT

STATE_DIR = Path(os.environ.get("RDS_CDC_LOCAL_DIR", ROOT / ".local-stack"))
TEARDOWN_ASL = ROOT / "statemachine" / "cdc_teardown.asl.json"
FLEET_ASL = ROOT / "statemachine" / "cdc_fleet.asl.json"
CHECK_ASL = ROOT / "statemachine" / "cdc_check.asl.json"
CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local", "region_name": "us-east-1"}


@dataclass(frozen=True)
class StackInfo:
    pid: int
    endpoint: str
    setup_arn: str
    teardown_arn: str
    instance: str
    database: str
    postgres: str
    execution_input: dict  # the demo's: instance, schemas
    fleet_arn: str = ""  # "": a stack started before the fleet was deployed locally
    check_arn: str = ""  # "": a stack started before the check was deployed locally


def info_file(state_dir: Path) -> Path:
    return state_dir / "stack.json"


def serve(state_dir: Path) -> None:
    """Run the stack until SIGTERM/SIGINT; stack.json tells clients where it is."""
    from moto import mock_aws
    from moto.server import ThreadedMotoServer

    from local.demo import EXECUTION_INPUT, INSTANCE, add_sample_instance, start_sample_server
    from local.rds_emulator import RdsEmulator
    from local.workflow_runner import LocalWorkflow

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = start_sample_server()
    try:
        with (
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
            RdsEmulator() as emulator,
            LocalWorkflow() as setup,
            LocalWorkflow(asl_file=TEARDOWN_ASL) as teardown,
            LocalWorkflow(asl_file=FLEET_ASL, substitutions={"SetupStateMachineArn": setup.state_machine_arn}) as fleet,
            LocalWorkflow(asl_file=CHECK_ASL) as check,
        ):
            add_sample_instance(emulator, server)
            moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            moto.start()
            host, port = moto.get_host_and_port()
            info = StackInfo(
                pid=os.getpid(),
                endpoint=f"http://{host}:{port}",
                setup_arn=setup.state_machine_arn,
                teardown_arn=teardown.state_machine_arn,
                instance=INSTANCE,
                database="orders",
                postgres=f"PostgreSQL {server.major_version} on {server.host}:{server.port}",
                execution_input=EXECUTION_INPUT,
                fleet_arn=fleet.state_machine_arn,
                check_arn=check.state_machine_arn,
            )
            partial = info_file(state_dir).with_suffix(".tmp")
            partial.write_text(json.dumps(asdict(info)))
            partial.replace(info_file(state_dir))  # clients never read half a file
            stop.wait()
            moto.stop()
    finally:
        server.destroy()
        info_file(state_dir).unlink(missing_ok=True)  # last: stop() waits for it


def running(state_dir: Path = STATE_DIR) -> StackInfo | None:
    try:
        info = StackInfo(**json.loads(info_file(state_dir).read_text()))
        os.kill(info.pid, 0)
    except (FileNotFoundError, ProcessLookupError, ValueError, TypeError):
        return None
    return info


def ensure_running(state_dir: Path = STATE_DIR, timeout: float = 90) -> tuple[StackInfo, bool]:
    """(the stack, whether this call started it)."""
    info = running(state_dir)
    if info:
        return info, False
    state_dir.mkdir(parents=True, exist_ok=True)
    log = (state_dir / "stack.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack", str(state_dir)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # outlives the CLI command that started it
    )
    deadline = time.monotonic() + timeout
    while (info := running(state_dir)) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            tail = (state_dir / "stack.log").read_text()[-2000:]
            raise RuntimeError(f"the local stack did not start (log {state_dir / 'stack.log'}):\n{tail}")
        time.sleep(0.1)
    return info, True


def stop(state_dir: Path = STATE_DIR, timeout: float = 30) -> bool:
    info = running(state_dir)
    if info is None:
        return False
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running(state_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    return True


if __name__ == "__main__":
    os.environ.setdefault("AWS_DEFAULT_REGION", CREDENTIALS["region_name"])
    serve(Path(sys.argv[1]))
